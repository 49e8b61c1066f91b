import ArgumentParser
import CharLSTMKit
import Foundation

// The one place where errors become the one-line messages the user reads. Library errors
// describe values ("batch size 0 is out of range"); here each setting gets the flag that sets
// it, and the fix names the flags to change.

/// The flag that sets each training setting.
let trainingFlags: [TrainingSetting: String] = [
  .batch: "--batch", .seqLength: "--seq", .charactersPerStep: "--batch × --seq", .steps: "--steps",
  .learningRate: "--lr", .momentum: "--momentum", .clipNorm: "--clip", .clipValue: "--clip-value",
  .patience: "--patience", .decayEvery: "--decay-every", .decayFactor: "--decay-factor",
  .warmupSteps: "--warmup", .validationFraction: "--val-fraction", .evalEvery: "--eval-every",
  .checkpointEvery: "--checkpoint-every", .sampleEvery: "--sample-every", .forgetBias: "--forget-bias",
  .weightDrop: "--weight-drop", .embedDropout: "--embed-dropout", .weightDecay: "--weight-decay", .stateReset: "--state-reset", .emaDecay: "--ema",
  .dropout: "--dropout", .embedSize: "--embed", .hiddenSize: "--hidden", .layers: "--layers",
  .evaluationStreams: "--streams", .evaluationSeqLength: "--seq",
]

/// The flag that sets each generation setting (`bench` calls the length --sample-len).
func samplingFlag(_ s: SamplingSetting, command: ParsableCommand?) -> String {
  switch s {
  case .temperature: return "--temperature"
  case .topK: return "--top-k"
  case .topP: return "--top-p"
  case .length: return command is BenchCommand ? "--sample-len" : "--length"
  case .count: return "--count"
  case .beamWidth: return "--beam"
  }
}

/// The flag that sets each text setting.
let textFlags: [TextSetting: String] = [
  .minCount: "--min-count", .locale: "--locale", .normalization: "--normalize", .lowercase: "--lowercase",
  .validationFraction: "--val-fraction", .documents: "--documents",
]

/// A training setting's flag, or its name when no flag sets it (the vocabulary size).
func flag(_ s: TrainingSetting) -> String { trainingFlags[s] ?? s.rawValue }

/// "a", "a or b", "a, b or c".
private func alternatives(_ items: [String]) -> String {
  items.count <= 1 ? items.joined() : items.dropLast().joined(separator: ", ") + " or " + items.last!
}

/// Bytes as whole gigabytes, as the library's estimates say them.
private func gigabytes(_ bytes: Double) -> String { bytes < 1e9 ? "<1" : "\(Int(min(bytes / 1e9, 1e15)))" }

/// One line for an error raised while a command runs (or while it validates its options),
/// naming the flags that would fix it.
func userMessage(_ error: Error, command: ParsableCommand? = nil) -> String {
  switch error {
  case let e as ValidationError: return e.message
  case let e as TrainingError: return trainingMessage(e, command: command)
  case let e as SamplingError: return samplingMessage(e, command: command)
  case let e as TextError: return textMessage(e, command: command)
  case CheckpointError.nonFinite(let path, let tensor, let index):
    return "\(path): tensor \(tensor) holds a non-finite value (NaN or ±inf, at index \(index)); the model diverged — use an earlier checkpoint (e.g. the .best one) or retrain with a lower --lr"
  case CheckpointLockError.held(let c):
    return "\(c): another charlstm train is writing this checkpoint; wait for it, stop it, or choose another --out"
  case CheckpointLockError.cannotCreate(let p, let reason):
    return "\(p): cannot create the lock file (\(reason)); check that the checkpoint folder is writable or choose another --out"
  case SafeTensorsError.diskFull, CheckpointError.file(.diskFull):
    return command is TrainCommand ? "\(error) (--out chooses another path)" : "\(error)"
  case let e as CustomStringConvertible: return e.description
  case let e as LocalizedError: return e.errorDescription ?? "\(error)"
  default: return "\(error)"
  }
}

private func trainingMessage(_ error: TrainingError, command: ParsableCommand?) -> String {
  func recovery(_ checkpoint: String?) -> String {
    guard let checkpoint else { return "; no checkpoint was written: lower --lr or --clip and start again" }
    return "; the last good checkpoint is \(checkpoint): lower --lr or --clip and resume it"
  }
  switch error {
  case .outOfRange(.vocabularySize, let value, _):
    return "vocabulary \(value) is invalid: expected at most 16,777,216 symbols (raise --min-count)"
  case .outOfRange(let setting, let value, let expected):
    return "\(flag(setting)) \(value) is invalid: expected \(expected)"
  case .invalidModel(let e):
    return modelMessage(e)
  case .exceedsMemory(let run, let need, let have, let reduce):
    return "\(run) does not fit in memory (needs about \(gigabytes(need)) GB, this machine has \(gigabytes(have)) GB); use smaller \(alternatives(reduce.map(flag)))"
  case .tooManyProcesses(let n, let batch):
    return "--batch \(batch) is invalid: expected at least one stream per process (\(n) processes)"
  case .notResumable(let path):
    return "\(path ?? "the checkpoint") holds weights only, not a training run; give --resume a checkpoint written by 'charlstm train', or start a new run"
  case .stepsBelowCheckpoint(let steps, let done):
    return "--steps \(steps) is below the checkpoint's step \(done): --steps is the total to train to; give a larger number"
  case .precisionChanged(let then, let now):
    return "--precision \(now) is invalid: expected the checkpoint's \(then) (a resumed run keeps its numerics, so it continues bit for bit); drop --precision to resume"
  case .layoutChanged(let b0, let t0, let b, let t):
    return "--batch × --seq \(b) × \(t) is invalid: expected the checkpoint's \(b0) × \(t0) (a resumed run keeps its data layout); drop --batch and --seq to resume, or start a new run"
  case .corpus(let e):
    return textMessage(e, command: command)
  case .corpusTooShort(let n, let needed, let b, let t):
    return "the training text has \(n) characters but one window of --batch \(b) × --seq \(t) needs at least \(needed); use a longer corpus or smaller --batch/--seq"
  case .diverged(let step, let loss, let norm, let ckpt):
    return "training diverged at step \(step) (loss \(loss), gradient norm \(norm))\(recovery(ckpt))"
  case .nonFiniteUpdate(let step, let tensor, let ckpt):
    return "training diverged at step \(step): the update made \(tensor) non-finite (NaN or ±inf)\(recovery(ckpt))"
  case .nonFiniteValidation(let step, let loss, let ckpt):
    return "training diverged at step \(step): the validation loss is \(loss)\(recovery(ckpt))"
  case .ranksChanged(let then, _) where command is TrainCommand:
    return "\(error); resume it with: \(then > 1 ? "mpirun -np \(then) charlstm train --resume CKPT --distributed" : "charlstm train --resume CKPT (without mpirun)")"
  case .ranksChanged, .processesDrifted, .corpusChanged, .vocabularyMismatch, .averagingChanged:
    return error.description
  }
}

private func samplingMessage(_ error: SamplingError, command: ParsableCommand?) -> String {
  let flag = { (s: SamplingSetting) in samplingFlag(s, command: command) }
  switch error {
  case .outOfRange(let setting, let value, let expected):
    return "\(flag(setting)) \(value) is invalid: expected \(expected)"
  case .tooManyStoredCharacters(let count, let length):
    return "--count × --length \(count) × \(length) is invalid: expected at most 100,000,000 characters kept in memory for --count > 1 (about 400 MB); generate fewer or shorter texts, or one at a time (--count 1 streams any --length)"
  case .beamTooLong(let width, let length, let maxLength):
    return "--length \(length) is invalid: expected at most \(maxLength) with --beam \(width) (--beam × --length ≤ 10,000,000: the search keeps every hypothesis's characters, 16 bytes each)"
  case .exceedsMemory(let generation, let need, let have, let reduce):
    return "\(generation) does not fit in memory (needs about \(gigabytes(need)) GB, this machine has \(gigabytes(have)) GB); use a smaller model or \(alternatives(reduce.map(flag)))"
  }
}

private func textMessage(_ error: TextError, command: ParsableCommand?) -> String {
  switch error {
  case .outOfRange(let setting, let value, let expected):
    return "\(textFlags[setting] ?? setting.rawValue) \(value) is invalid: expected \(expected)"
  case .singleDocument(let fraction):
    return "--val-fraction \(fraction) is invalid: expected 0 for a corpus of one document (validation is cut between documents); give more documents, or --val-fraction 0"
  case .noEndOfText(let documents):
    return "--documents \(documents.rawValue) is invalid: expected none: this model's vocabulary has no end-of-text symbol (it was trained on one stream)"
  case .invalidUTF8(let path, let offset):
    return "\(path): invalid UTF-8 at byte offset \(offset); convert the file to UTF-8 (e.g. iconv -f LATIN1 -t UTF-8) or exclude it with --include"
  case .noTextFiles(let path, let include):
    let filter = include.map { " matching --include '\($0)'" } ?? ""
    return "\(path): no text files\(filter) in this directory; check the path or the --include pattern"
  case .unknownCharacters:
    switch command {
    case is TrainCommand: return error.description + "; resume on the corpus the checkpoint was trained on"
    default: return error.description + "; remove them or pass --drop-unknown"
    }
  default:
    return error.description
  }
}
