import ArgumentParser
import CharLSTMKit

/// `--precision fp32|bf16|auto`, shared by the commands that run the model.
///
/// `auto` takes the fastest path this CPU has whose quality is proven (README, Precision): bf16
/// where the CPU has a bf16 unit this build drives (AVX512-BF16: the `avx512bf16` kernel path),
/// else fp32. Elsewhere `bf16` runs the bf16 numerics (operands rounded to bfloat16, fp32
/// accumulation) on the fp32 FMA kernels: the same results a bf16 unit gives up to summation
/// order, for checking a recipe's quality in bf16; it is not faster there.
enum PrecisionChoice: String, ExpressibleByArgument, CaseIterable {
  case fp32, bf16, auto

  /// The precision this choice stands for on this machine.
  var resolved: Kernels.Precision {
    switch self {
    case .fp32: return .fp32
    case .bf16: return .bf16
    case .auto: return Kernels.fastestProvenPrecision
    }
  }

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
  @Option(help: "Matrix-product numerics: fp32, bf16 (bfloat16 operands, fp32 accumulation) or auto (bf16 where this CPU has AVX512-BF16, else fp32; generation: bf16 weights). Default auto.")
  var precision: PrecisionChoice?

  /// The numerics of matrix products this command line asks for (`auto` when not given).
  var matrixProducts: Kernels.Precision { (precision ?? .auto).resolved }
  /// The weight format of generation this command line asks for (`auto` when not given).
  var generationWeights: Kernels.Precision { (precision ?? .auto).resolvedForGeneration }
}
