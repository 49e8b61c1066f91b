// swift-tools-version:6.1
import PackageDescription

let package = Package(
  name: "charlstm",
  products: [
    .library(name: "CharLSTMKit", targets: ["CharLSTMKit"]),
    .executable(name: "charlstm", targets: ["charlstm"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2")
  ],
  targets: [
    // MARK: - Public API

    /// Umbrella: training, sampling and checkpoints over the text, model and kernel modules.
    .target(
      name: "CharLSTMKit",
      dependencies: ["CharLSTMText", "CharLSTMModel", "CharLSTMKernels", "SafeTensors"]),
    /// Unicode text: ICU-backed grapheme tokenizer, vocabulary, corpus loading and splitting.
    .target(name: "CharLSTMText", dependencies: ["_CharLSTMICU"]),
    /// The network: embedding, stacked LSTM, linear head, loss; forward and backward by hand.
    .target(name: "CharLSTMModel", dependencies: ["CharLSTMKernels"]),
    /// Numeric kernels behind a small interface: matrix products, fused LSTM cell, softmax.
    .target(name: "CharLSTMKernels", dependencies: ["_CharLSTMKernels"]),
    /// Reading and writing `.safetensors` files, validating every byte of untrusted input.
    .target(name: "SafeTensors"),
    /// The command-line tool: a thin layer over CharLSTMKit.
    .executableTarget(
      name: "charlstm",
      dependencies: [
        "CharLSTMKit", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    /// Benchmarks: print figures, never assert them.
    .executableTarget(
      name: "charlstm-bench",
      dependencies: [
        "CharLSTMKit", .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]),
    /// The README's library example: load a checkpoint and generate text.
    .executableTarget(name: "generate-text", dependencies: ["CharLSTMKit"], path: "Examples/generate-text"),

    // MARK: - Implementation details

    /// Plain-C wrapper over the system ICU (libicu-dev), hiding ICU's versioned symbol names.
    .target(
      name: "_CharLSTMICU",
      linkerSettings: [.linkedLibrary("icuuc"), .linkedLibrary("icudata")]),
    /// C kernels with run-time CPU dispatch (AVX-512 / AVX2 / portable) and a worker pool.
    .target(
      name: "_CharLSTMKernels",
      cSettings: [.define("_GNU_SOURCE")],
      linkerSettings: [.linkedLibrary("pthread")]),

    // MARK: - Tests

    .testTarget(name: "CharLSTMTextTests", dependencies: ["CharLSTMText"]),
    .testTarget(name: "CharLSTMKernelsTests", dependencies: ["CharLSTMKernels"]),
    .testTarget(name: "CharLSTMModelTests", dependencies: ["CharLSTMModel"]),
    .testTarget(name: "SafeTensorsTests", dependencies: ["SafeTensors"]),
    .testTarget(name: "CharLSTMKitTests", dependencies: ["CharLSTMKit"]),
    .testTarget(name: "CLITests", dependencies: ["charlstm", "generate-text"]),
  ],
  swiftLanguageModes: [.v6]
)
