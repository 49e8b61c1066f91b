import ArgumentParser
import CharLSTMKit

/// `--precision fp32|bf16|auto`, shared by the commands that run the model.
///
/// `auto` takes the fastest path this CPU has whose quality is proven (README, Precision): for
/// training, bf16 where the CPU has a bf16 unit this build drives (AVX512-BF16: the
/// `avx512bf16` kernel path) that is faster than its fp32 FMAs (``Kernels/bf16DotIsFaster``:
/// AMD Zen 4/5, not Intel's Sapphire Rapids class) and the model is large enough for bf16 to keep fp32's quality
/// (``PrecisionChoice/bf16MinimumHidden``), else fp32. Elsewhere `bf16` runs the bf16 numerics (operands rounded to bfloat16, fp32
/// accumulation) on the fp32 FMA kernels: the same results a bf16 unit gives up to summation
/// order, for checking a recipe's quality in bf16; it is not faster there.
enum PrecisionChoice: String, ExpressibleByArgument, CaseIterable {
  case fp32, bf16, auto

  /// The smallest hidden size for which `auto` trains in bf16 on a CPU with a bf16 unit. Measured
  /// (README, Precision), same seed against fp32: the 2×512 recipe ends 0.004 behind and trains
  /// 1.3× faster; the 2×128 default ends 0.019 behind (1.6848 against 1.6661) and is only 1.1×
  /// faster, so small models stay fp32.
  static let bf16MinimumHidden = 512

  /// The precision of training a model with `hidden` units for this choice on this machine.
  func resolved(hidden: Int) -> Kernels.Precision {
    switch self {
    case .fp32: return .fp32
    case .bf16: return .bf16
    case .auto: return hidden >= Self.bf16MinimumHidden ? Kernels.fastestProvenPrecision : .fp32
    }
  }

  /// The precision of scoring for this choice: `auto` is fp32, so that evaluation figures are
  /// comparable whatever the machine.
  var resolvedForScoring: Kernels.Precision { self == .bf16 ? .bf16 : .fp32 }

  /// The weight format of generation for this choice: `auto` is bf16 weights, which halve the
  /// bytes a batch-1 step reads on every CPU (measured in the README's Speed section) and keep
  /// the logits within bf16 rounding of fp32 (tested).
  var resolvedForGeneration: Kernels.Precision {
    switch self {
    case .fp32: return .fp32
    case .bf16, .auto: return .bf16
    }
  }
}

struct PrecisionOptions: ParsableArguments {
  @Option(help: "Matrix-product numerics: fp32, bf16 (bfloat16 operands, fp32 accumulation) or auto (training: bf16 for hidden sizes of 512 and more where this CPU's AVX512-BF16 outruns its fp32 FMAs, else fp32; generation: bf16 weights; eval: fp32). Default auto.")
  var precision: PrecisionChoice?

  /// The numerics of training products for a model with `hidden` units (`auto` when not given).
  func matrixProducts(hidden: Int) -> Kernels.Precision { (precision ?? .auto).resolved(hidden: hidden) }
  /// The numerics of evaluation's products (`auto` when not given: fp32).
  var scoring: Kernels.Precision { (precision ?? .auto).resolvedForScoring }
  /// The weight format of generation this command line asks for (`auto` when not given).
  var generationWeights: Kernels.Precision { (precision ?? .auto).resolvedForGeneration }
}
