import CharLSTMKit
import Foundation
import Synchronization

/// The texts of one completion request: one ``TextRequest`` per choice, the model that
/// generates them, where their events go and when they must end.
final class GenerationJob: Sendable {
  let id: Int
  /// Index of the model in the engine's list.
  let model: Int
  /// Choice i is `texts[i]`.
  let texts: [TextRequest]
  /// When the generation is stopped with ``ServeError/timedOut(seconds:)``, if ever.
  let deadline: ContinuousClock.Instant?
  let timeLimit: Double
  let events = EventChannel()

  init(id: Int, model: Int, texts: [TextRequest], timeLimit: Double?) {
    self.id = id
    self.model = model
    self.texts = texts
    self.timeLimit = timeLimit ?? 0
    deadline = timeLimit.map { ContinuousClock.now + .milliseconds(Int64(($0 * 1000).rounded(.up))) }
  }
}

/// Generates the texts of every request on one dedicated thread: each model's texts are rows
/// of one ``TextBatch``, so concurrent requests share each character step's matrix products.
///
/// Requests arrive and leave through a lock-protected inbox; between steps the thread admits
/// waiting choices into free rows (first come, first served), steps every model that has rows
/// (round-robin), and posts each job's events to its ``EventChannel``. A job whose client went
/// away is cancelled between two steps.
///
/// One thread for all models: the C kernels' worker pool serves one product at a time (a
/// second caller runs its product alone, without the workers), so a thread per model would not
/// add speed, and the pool's workers join every product of this thread.
/// Each text's characters depend only on its own request (``TextBatch``), so a seeded request
/// gives the same text alone, under load, and from `charlstm generate`.
final class GenerationEngine: @unchecked Sendable {
  // @unchecked: everything below `condition` is read and written by the generation thread
  // only; the inbox and `stopping` are guarded by `condition`.

  /// Counts for `/healthz` and tests.
  struct Load: Sendable, Equatable {
    var jobs = 0
    var rows = 0
    var waiting = 0
    /// The most rows one model's batch has stepped together since the start.
    var peakRows = 0
  }

  private enum Command {
    case submit(GenerationJob)
    case cancel(Int)
    case failAll(ServeError)
  }

  private let condition = NSCondition()
  private var inbox: [Command] = []
  private var stopping = false
  private var thread: Thread?
  private let finished = DispatchSemaphore(value: 0)
  private let load = Mutex(Load())
  private let jobIDs = Atomic(0)

  /// One model's batch and its queue.
  private struct Slot {
    let batch: TextBatch
    /// Choices waiting for a row, oldest first: (job id, choice).
    var waiting: [(job: Int, choice: Int)] = []
    /// The job and choice of each batch id.
    var owners: [Int: (job: Int, choice: Int)] = [:]
  }

  /// A job in progress.
  private struct Running {
    let job: GenerationJob
    /// Choices not yet finished.
    var remaining: Int
    /// Batch ids of the choices that have a row.
    var rows: [Int] = []
  }

  private var slots: [Slot]
  private var jobs: [Int: Running] = [:]
  private var outbox: [Int: [GenerationEvent]] = [:]
  private var peakRows = 0

  /// An engine for `models`, each with a batch of up to `rows` texts whose weights are held in
  /// `weights` precision (bf16 for `--precision auto`, as `charlstm generate`).
  init(models: [ServedModel], rows: Int, weights: Kernels.Precision) {
    slots = models.map { Slot(batch: TextBatch(model: $0.model, capacity: rows, weights: weights)) }
  }

  /// Starts the generation thread.
  func start() {
    let t = Thread { [self] in
      self.loop()
      self.finished.signal()
    }
    t.name = "charlstm-generation"
    thread = t
    t.start()
  }

  /// A new job id.
  func nextJobID() -> Int { jobIDs.add(1, ordering: .relaxed).newValue }

  /// Queues `job`; its events arrive on `job.events`.
  func submit(_ job: GenerationJob) {
    send(.submit(job))
  }

  /// Ends job `id` at the next step, with no further event (its client went away). Does
  /// nothing for a job that already ended.
  func cancel(_ id: Int) {
    send(.cancel(id))
  }

  /// Ends every job queued or running now with `error` as its last event.
  func failAll(_ error: ServeError) {
    send(.failAll(error))
  }

  /// Ends every job still running with ``ServeError/shuttingDown`` and stops the thread.
  func stop() {
    condition.lock()
    stopping = true
    condition.signal()
    condition.unlock()
    if thread != nil { finished.wait() }
  }

  /// What the thread is doing now.
  var current: Load { load.withLock { $0 } }

  private func send(_ c: Command) {
    condition.lock()
    inbox.append(c)
    condition.signal()
    condition.unlock()
  }

  private var hasWork: Bool { !jobs.isEmpty }

  private func loop() {
    while true {
      condition.lock()
      while inbox.isEmpty && !hasWork && !stopping { condition.wait() }
      let commands = inbox
      inbox.removeAll()
      let stop = stopping
      condition.unlock()

      for c in commands {
        switch c {
        case .submit(let job): admit(job)
        case .cancel(let id): end(id, with: nil)
        case .failAll(let e): for id in Array(jobs.keys) { end(id, with: e) }
        }
      }
      if stop {
        for id in Array(jobs.keys) { end(id, with: .shuttingDown) }
        publish()
        return
      }
      expire()
      for m in slots.indices { step(model: m) }
      publish()
    }
  }

  private func admit(_ job: GenerationJob) {
    jobs[job.id] = Running(job: job, remaining: job.texts.count)
    for k in job.texts.indices { slots[job.model].waiting.append((job.id, k)) }
  }

  /// Ends the jobs past their deadline.
  private func expire() {
    let now = ContinuousClock.now
    for (id, r) in jobs {
      if let d = r.job.deadline, now >= d { end(id, with: .timedOut(seconds: r.job.timeLimit)) }
    }
  }

  /// Removes job `id` from its batch and queue; posts `error` as its last event, or nothing.
  private func end(_ id: Int, with error: ServeError?) {
    guard let r = jobs.removeValue(forKey: id) else { return }
    let m = r.job.model
    for row in r.rows {
      slots[m].batch.cancel(row)
      slots[m].owners[row] = nil
    }
    slots[m].waiting.removeAll { $0.job == id }
    outbox[id] = nil
    r.job.events.post(error.map { [.failed($0)] } ?? [], close: true)
  }

  /// Fills free rows of model `m` from its queue, then steps its batch once.
  private func step(model m: Int) {
    var taken = 0
    while slots[m].batch.hasRoom && taken < slots[m].waiting.count {
      let (jobID, choice) = slots[m].waiting[taken]
      taken += 1
      guard let r = jobs[jobID] else { continue }
      let row = slots[m].batch.add(r.job.texts[choice])
      slots[m].owners[row] = (jobID, choice)
      jobs[jobID]!.rows.append(row)
    }
    slots[m].waiting.removeFirst(taken)
    let batch = slots[m].batch
    guard batch.active > 0 else { return }
    batch.step { row, event in
      guard let (jobID, choice) = slots[m].owners[row] else { return }
      switch event {
      case .token(let id, let lp, let top):
        outbox[jobID, default: []].append(.token(choice: choice, id: id, logprob: lp, alternatives: top))
      case .finished(let reason, let characters, _):
        outbox[jobID, default: []].append(.finished(choice: choice, reason: reason, characters: characters))
        slots[m].owners[row] = nil
        jobs[jobID]!.remaining -= 1
        jobs[jobID]!.rows.removeAll { $0 == row }
      }
    }
  }

  /// Posts this round's events, closing the jobs whose choices have all finished.
  private func publish() {
    for (id, events) in outbox {
      guard let r = jobs[id] else { continue }
      let done = r.remaining == 0
      if done { jobs[id] = nil }
      r.job.events.post(events, close: done)
    }
    outbox.removeAll(keepingCapacity: true)
    var l = Load(jobs: jobs.count)
    for s in slots {
      l.rows += s.owners.count
      l.waiting += s.waiting.count
      peakRows = max(peakRows, s.owners.count)
    }
    l.peakRows = peakRows
    load.withLock { $0 = l }
  }
}
