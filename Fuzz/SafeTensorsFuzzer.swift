// libFuzzer entry point for the safetensors loader (the surface checkpoints arrive through).
// Built outside SwiftPM by Fuzz/run.sh with `swiftc -sanitize=fuzzer,address`, compiling the
// SafeTensors sources into the same module, so SwiftPM never sees unsafe flags.
// Any crash, trap, hang or sanitizer report is a finding; clean errors are fine.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
  let bytes = Array(UnsafeBufferPointer(start: data, count: size))
  do {
    let file = try SafeTensorsFile(bytes: bytes, path: "fuzz", maxHeaderBytes: 1 << 20)
    // Accepted files must be consistent: every tensor readable with its own dtype and shape.
    for info in file.tensors {
      let raw = try file.rawBytes(info.name)
      precondition(raw.count == info.elementCount * info.dtype.byteSize, "inconsistent tensor \(info.name)")
      if info.dtype == .f32 { _ = try file.floats(info.name, shape: info.shape) }
    }
  } catch {
    _ = String(describing: error)  // the message must render without trapping
  }
  return 0
}
