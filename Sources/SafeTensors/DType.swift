/// The element type of a tensor stored in a safetensors file.
///
/// The raw value is the exact dtype string used in the header JSON (`"F32"`, `"BF16"`, ...), so a
/// header entry maps to a case with `SafeTensorsDType(rawValue:)`. All values are stored
/// little-endian in the file.
public enum SafeTensorsDType: String, Sendable, CaseIterable, CustomStringConvertible {
  /// IEEE 754 binary64 (`Double`), 8 bytes.
  case f64 = "F64"
  /// IEEE 754 binary32 (`Float`), 4 bytes.
  case f32 = "F32"
  /// IEEE 754 binary16 (half precision), 2 bytes.
  case f16 = "F16"
  /// bfloat16 (the top 16 bits of a binary32), 2 bytes.
  case bf16 = "BF16"
  /// 8-bit float with 4 exponent and 3 mantissa bits (OCP FP8 E4M3), 1 byte.
  case f8e4m3 = "F8_E4M3"
  /// 8-bit float with 5 exponent and 2 mantissa bits (OCP FP8 E5M2), 1 byte.
  case f8e5m2 = "F8_E5M2"
  /// Signed 64-bit integer, 8 bytes.
  case i64 = "I64"
  /// Signed 32-bit integer, 4 bytes.
  case i32 = "I32"
  /// Signed 16-bit integer, 2 bytes.
  case i16 = "I16"
  /// Signed 8-bit integer, 1 byte.
  case i8 = "I8"
  /// Unsigned 64-bit integer, 8 bytes.
  case u64 = "U64"
  /// Unsigned 32-bit integer, 4 bytes.
  case u32 = "U32"
  /// Unsigned 16-bit integer, 2 bytes.
  case u16 = "U16"
  /// Unsigned 8-bit integer, 1 byte.
  case u8 = "U8"
  /// Boolean stored as one byte (0 or 1).
  case bool = "BOOL"

  /// The size in bytes of one element of this type.
  ///
  /// - Returns: 1, 2, 4 or 8.
  public var byteSize: Int {
    switch self {
    case .f64, .i64, .u64: 8
    case .f32, .i32, .u32: 4
    case .f16, .bf16, .i16, .u16: 2
    case .f8e4m3, .f8e5m2, .i8, .u8, .bool: 1
    }
  }

  /// The dtype string as written in the header, e.g. `F32`.
  ///
  /// Same as `rawValue`.
  public var description: String { rawValue }
}
