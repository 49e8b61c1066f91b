import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The `charlstm` binary beside the test bundle, run as a user would.
enum Binary {
  static let directory: URL = {
    let exe = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
    var dir = exe.deletingLastPathComponent()
    for _ in 0..<4 where !FileManager.default.fileExists(atPath: dir.appendingPathComponent("charlstm").path) {
      dir = dir.deletingLastPathComponent()
    }
    return dir
  }()
  static var charlstm: URL { directory.appendingPathComponent("charlstm") }

  struct Result {
    var status: Int32
    var stdout: String
    var stderr: String
  }

  /// Runs `charlstm args…` to the end.
  static func run(_ args: [String]) throws -> Result {
    let p = Process()
    p.executableURL = charlstm
    p.arguments = args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
  }

  /// `charlstm generate` with `args`: the texts it prints, without the prompt (`--no-prompt`)
  /// and without the separator lines and final line breaks.
  static func generate(_ checkpoint: String, _ args: [String], count: Int = 1) throws -> [String] {
    let r = try run(["generate", checkpoint, "--no-prompt", "--count", "\(count)"] + args)
    #expect(r.status == 0, "\(r.stderr)")
    if count == 1 { return [String(r.stdout.dropLast())] }
    // "──── k/n ────\n" + text + "\n" per text.
    var texts: [String] = []
    var rest = Substring(r.stdout)
    for k in 1...count {
      let header = "──── \(k)/\(count) ────\n"
      guard let h = rest.range(of: header) else { break }
      rest = rest[h.upperBound...]
      let next = k < count ? rest.range(of: "──── \(k + 1)/\(count) ────\n")?.lowerBound ?? rest.endIndex : rest.endIndex
      texts.append(String(rest[..<next].dropLast()))
      rest = rest[next...]
    }
    return texts
  }
}

/// A folder of tiny trained checkpoints shared by the suites (trained once per process).
enum Fixtures {
  static let tiny = ["--embed", "8", "--hidden", "16", "--layers", "1", "--batch", "4", "--seq", "16", "--threads", "1", "--quiet", "--sample-length", "0"]
  static let directory: String = {
    let dir = NSTemporaryDirectory() + "charlstm-serve-tests-" + UUID().uuidString
    try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    var text = ""
    for i in 0..<300 { text += ["ROMEO: to be or not to be,\n", "JULIET: that is the question.\n", "All: whether 'tis nobler\n"][i % 3] }
    FileManager.default.createFile(atPath: dir + "/play.txt", contents: Data(text.utf8))
    for (name, seed) in [("play", "1"), ("other", "2")] {
      let r = try! Binary.run(["train", dir + "/play.txt", "--out", dir + "/\(name).safetensors", "--steps", "30", "--seed", seed] + tiny)
      precondition(r.status == 0, "training the fixture failed: \(r.stderr)")
    }
    return dir
  }()
  /// A checkpoint served as model "play".
  static var play: String { directory + "/play.safetensors" }
  /// A second checkpoint, model "other".
  static var other: String { directory + "/other.safetensors" }
}

/// A `charlstm serve` child on a free loopback port.
final class ServerProcess: @unchecked Sendable {
  let process = Process()
  let port: Int
  private let errPipe = Pipe()
  private var stderrData = Data()
  private let lock = NSLock()

  /// Starts `charlstm serve checkpoints… --port 0 extra…` and waits for its listening line.
  init(_ checkpoints: [String] = [Fixtures.play], _ extra: [String] = []) throws {
    process.executableURL = Binary.charlstm
    process.arguments = ["serve"] + checkpoints + ["--port", "0", "--threads", "1"] + extra
    let out = Pipe()
    process.standardOutput = out
    process.standardError = errPipe
    try process.run()
    // "charlstm serve: listening on http://127.0.0.1:PORT · …"
    var line = Data()
    let reader = out.fileHandleForReading
    while !line.contains(UInt8(ascii: "\n")) {
      let d = reader.availableData
      if d.isEmpty { break }
      line.append(d)
    }
    let text = String(decoding: line, as: UTF8.self)
    guard let r = text.range(of: "http://127.0.0.1:"), let p = Int(text[r.upperBound...].prefix { $0.isNumber }) else {
      process.terminate()
      process.waitUntilExit()
      let err = String(decoding: errPipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
      throw TestFailure("no listening line: \(text) \(err)")
    }
    port = p
    errPipe.fileHandleForReading.readabilityHandler = { [weak self] h in
      let d = h.availableData
      guard let self else { return }
      self.lock.lock()
      self.stderrData.append(d)
      self.lock.unlock()
    }
  }

  /// What the server wrote on standard error so far (its request log).
  var stderr: String {
    lock.lock()
    defer { lock.unlock() }
    return String(decoding: stderrData, as: UTF8.self)
  }

  /// Sends SIGTERM and waits for the exit status.
  @discardableResult
  func terminate() -> Int32 {
    if process.isRunning { kill(process.processIdentifier, SIGTERM) }
    process.waitUntilExit()
    return process.terminationStatus
  }

  deinit {
    if process.isRunning {
      kill(process.processIdentifier, SIGKILL)
      process.waitUntilExit()
    }
  }

  /// Polls `/healthz` until `condition` holds (at most `attempts` × 20 ms); returns the last body.
  @discardableResult
  func waitForHealth(attempts: Int = 500, _ condition: ([String: Any]) -> Bool) throws -> [String: Any] {
    var last: [String: Any] = [:]
    for _ in 0..<attempts {
      last = try HTTP.json(HTTP.get(port, "/healthz"))
      if condition(last) { return last }
      usleep(20_000)
    }
    return last
  }
}

struct TestFailure: Error, CustomStringConvertible {
  let description: String
  init(_ d: String) { description = d }
}

/// A minimal blocking HTTP/1.1 client over a loopback socket: enough to see exactly what
/// the server sends (status, headers, chunked bodies, Server-Sent Events) and to hang up.
final class HTTPConnection {
  let fd: Int32
  private var buffer: [UInt8] = []

  struct Head {
    var status: Int
    var headers: [String: String]
  }

  init(port: Int) throws {
    fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let ok = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard ok == 0 else {
      Glibc.close(fd)
      throw TestFailure("cannot connect to port \(port): errno \(errno)")
    }
    // No test waits forever: a hung server fails the read after 60 s.
    var tv = timeval(tv_sec: 60, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
  }

  deinit { Glibc.close(fd) }

  /// Closes the socket at once (a client that went away).
  func hangUp() {
    shutdown(fd, Int32(SHUT_RDWR))
  }

  func send(method: String, path: String, body: [UInt8]? = nil, headers: [String: String] = [:]) throws {
    var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    for (k, v) in headers { head += "\(k): \(v)\r\n" }
    if let body {
      if headers["Content-Type"] == nil { head += "Content-Type: application/json\r\n" }
      head += "Content-Length: \(body.count)\r\n"
    }
    head += "\r\n"
    try write(Array(head.utf8) + (body ?? []))
  }

  func write(_ bytes: [UInt8]) throws {
    var done = 0
    while done < bytes.count {
      let n = bytes[done...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
      if n <= 0 { throw TestFailure("send failed: errno \(errno)") }
      done += n
    }
  }

  /// Reads more bytes; false at end of stream.
  private func fill() throws -> Bool {
    var chunk = [UInt8](repeating: 0, count: 65536)
    let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
    if n < 0 { throw TestFailure("recv failed: errno \(errno) (timed out?)") }
    if n == 0 { return false }
    buffer += chunk[0..<n]
    return true
  }

  private func line() throws -> String? {
    while true {
      if let i = buffer.firstIndex(of: 10) {
        let l = String(decoding: buffer[..<i], as: UTF8.self).trimmingCharacters(in: .init(charactersIn: "\r"))
        buffer.removeFirst(i + 1)
        return l
      }
      if try !fill() { return nil }
    }
  }

  private func take(_ n: Int) throws -> [UInt8] {
    while buffer.count < n {
      if try !fill() { throw TestFailure("connection closed after \(buffer.count) of \(n) bytes") }
    }
    let out = Array(buffer[..<n])
    buffer.removeFirst(n)
    return out
  }

  func readHead() throws -> Head {
    guard let status = try line() else { throw TestFailure("connection closed before a response") }
    let parts = status.split(separator: " ")
    guard parts.count >= 2, let code = Int(parts[1]) else { throw TestFailure("bad status line \(status)") }
    var headers: [String: String] = [:]
    while let l = try line(), !l.isEmpty {
      if let c = l.firstIndex(of: ":") {
        headers[l[..<c].lowercased()] = l[l.index(after: c)...].trimmingCharacters(in: .whitespaces)
      }
    }
    return Head(status: code, headers: headers)
  }

  /// The next piece of a chunked body; nil after the last.
  func readChunk() throws -> [UInt8]? {
    guard let sizeLine = try line(), let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else {
      throw TestFailure("bad chunk size")
    }
    if size == 0 {
      _ = try line()
      return nil
    }
    let data = try take(size)
    _ = try line()
    return data
  }

  func readBody(_ head: Head) throws -> [UInt8] {
    if let n = head.headers["content-length"].flatMap({ Int($0) }) { return try take(n) }
    if head.headers["transfer-encoding"]?.lowercased() == "chunked" {
      var body: [UInt8] = []
      while let c = try readChunk() { body += c }
      return body
    }
    while try fill() {}
    defer { buffer.removeAll() }
    return buffer
  }

  /// Reads Server-Sent Events until at least one more complete event has arrived.
  private var events: [String] = []
  private var pending = ""
  func nextEvents() throws -> [String]? {
    while true {
      if !events.isEmpty {
        defer { events.removeAll() }
        return events
      }
      guard let c = try readChunk() else { return nil }
      pending += String(decoding: c, as: UTF8.self)
      while let r = pending.range(of: "\n\n") {
        let e = String(pending[..<r.lowerBound])
        pending = String(pending[r.upperBound...])
        if e.hasPrefix("data: ") { events.append(String(e.dropFirst(6))) }
      }
    }
  }
}

/// One request per connection, as most clients do.
enum HTTP {
  struct Response {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
  }

  static func get(_ port: Int, _ path: String) throws -> Response {
    let c = try HTTPConnection(port: port)
    try c.send(method: "GET", path: path)
    let h = try c.readHead()
    return Response(status: h.status, headers: h.headers, body: try c.readBody(h))
  }

  static func post(_ port: Int, _ path: String = "/v1/completions", raw: [UInt8], headers: [String: String] = [:]) throws -> Response {
    let c = try HTTPConnection(port: port)
    try c.send(method: "POST", path: path, body: raw, headers: headers)
    let h = try c.readHead()
    return Response(status: h.status, headers: h.headers, body: try c.readBody(h))
  }

  static func post(_ port: Int, _ body: [String: Any]) throws -> Response {
    try post(port, raw: Array(try JSONSerialization.data(withJSONObject: body)))
  }

  static func json(_ r: Response) throws -> [String: Any] {
    guard let o = try JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any] else {
      throw TestFailure("not a JSON object: \(r.text)")
    }
    return o
  }

  /// A streamed completion: its status, and every `data:` payload in order.
  static func stream(_ port: Int, _ body: [String: Any]) throws -> (status: Int, headers: [String: String], events: [String]) {
    var b = body
    b["stream"] = true
    let c = try HTTPConnection(port: port)
    try c.send(method: "POST", path: "/v1/completions", body: Array(try JSONSerialization.data(withJSONObject: b)))
    let h = try c.readHead()
    guard h.status == 200 else { return (h.status, h.headers, [String(decoding: try c.readBody(h), as: UTF8.self)]) }
    var all: [String] = []
    while let e = try c.nextEvents() { all += e }
    return (h.status, h.headers, all)
  }

  /// The choices' texts and finish reasons of streamed `events`, by choice index.
  static func assemble(_ events: [String]) throws -> (texts: [Int: String], finish: [Int: String]) {
    var texts: [Int: String] = [:], finish: [Int: String] = [:]
    for e in events where e != "[DONE]" {
      let o = try #require(try JSONSerialization.jsonObject(with: Data(e.utf8)) as? [String: Any])
      for c in (o["choices"] as? [[String: Any]]) ?? [] {
        let i = try #require(c["index"] as? Int)
        texts[i, default: ""] += try #require(c["text"] as? String)
        if let f = c["finish_reason"] as? String { finish[i] = f }
      }
    }
    return (texts, finish)
  }
}

extension Dictionary where Key == String, Value == Any {
  /// `choices[i].text` of a completion.
  func text(_ i: Int = 0) -> String? { ((self["choices"] as? [[String: Any]])?[i])?["text"] as? String }
  func choice(_ i: Int = 0) -> [String: Any]? { (self["choices"] as? [[String: Any]])?[i] }
  /// `error` of an error body.
  var error: [String: Any]? { self["error"] as? [String: Any] }
}

/// Runs `body(0..<n)` on n threads at once (not a pool: every call is in flight together).
func parallel(_ n: Int, _ body: @escaping @Sendable (Int) -> Void) {
  let group = DispatchGroup()
  for i in 0..<n {
    group.enter()
    let t = Thread {
      body(i)
      group.leave()
    }
    t.start()
  }
  group.wait()
}
