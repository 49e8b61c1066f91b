import CharLSTMKit
import Foundation
import Hummingbird

/// `POST /v1/completions`: reads and checks the body, queues one job on the generation
/// thread, and answers with the whole completion or with Server-Sent Events as it is produced.
/// A client that disconnects cancels its job at once (before or after the first byte).
struct CompletionsRoute: Sendable {
  let models: [ServedModel]
  let limits: ServerConfiguration
  let engine: GenerationEngine
  let limiter: ConcurrencyLimiter

  func handle(_ request: Request, context: ServeContext) async throws -> Response {
    var request = request
    if let declared = request.headers[.contentLength].flatMap({ Int($0) }), declared > limits.maxBodyBytes {
      throw ServeError.bodyTooLarge(bytes: declared, limit: limits.maxBodyBytes)
    }
    let buffer: ByteBuffer
    do {
      buffer = try await request.collectBody(upTo: limits.maxBodyBytes)
    } catch let e as any HTTPResponseError where e.status == .contentTooLarge {
      throw ServeError.bodyTooLarge(bytes: nil, limit: limits.maxBodyBytes)
    }
    let plan = try CompletionPlan(CompletionRequest.parse(Array(buffer: buffer)), models: models, limits: limits)
    guard let permit = limiter.acquire() else {
      return OpenAIErrorMiddleware.response(.tooManyRequests(limit: limiter.limit), headers: [.retryAfter: "\(limits.retryAfter)"])
    }
    let job = GenerationJob(
      id: engine.nextJobID(), model: plan.modelIndex, texts: plan.texts,
      timeLimit: limits.requestTimeout > 0 ? limits.requestTimeout : nil)
    engine.submit(job)
    let engine = self.engine
    let stats = context.stats
    let id = "cmpl-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
    let created = Int(Date().timeIntervalSince1970)

    if !plan.request.stream {
      defer {
        permit.release()
        engine.cancel(job.id)
      }
      var text = Completion(plan: plan)
      let ended = try await request.body.consumeWithInboundCloseHandler { _ in
        try await job.events.forEach { events in _ = try text.apply(events) }
      } onInboundClosed: {
        engine.cancel(job.id)
      }
      stats.add(characters: text.characters)
      guard ended, text.isComplete else { throw CancellationError() }
      let body = CompletionBody(id: id, created: created, model: plan.model.id, choices: text.choices(), usage: text.usage)
      return Response(
        status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: JSON.encode(body))))
    }

    let request2 = request
    return Response(
      status: .ok,
      headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
      body: ResponseBody { writer in
        defer {
          permit.release()
          engine.cancel(job.id)
        }
        var text = Completion(plan: plan)
        let plain = TextChunkWriter(id: id, created: created, model: plan.model.id)
        func send(_ chunks: [ChoiceBody], usage: UsageBody? = nil) async throws {
          var out: [UInt8] = []
          for c in chunks {
            if c.logprobs == nil {
              plain.append(text: c.text, index: c.index, finishReason: c.finishReason, to: &out)
            } else {
              out += Array("data: ".utf8) + JSON.encode(CompletionBody(id: id, created: created, model: plan.model.id, choices: [c])) + [10, 10]
            }
          }
          if let usage {
            out += Array("data: ".utf8) + JSON.encode(CompletionBody(id: id, created: created, model: plan.model.id, choices: [], usage: usage)) + [10, 10]
          }
          if !out.isEmpty { try await writer.write(ByteBuffer(bytes: out)) }
        }
        var failure: ServeError?
        try await request2.body.consumeWithInboundCloseHandler { _ in
          try await send(text.echoChunks())
          let ended = try await job.events.forEach { events in
            do {
              try await send(text.apply(events))
            } catch let e as ServeError {
              failure = e
            }
          }
          stats.add(characters: text.characters)
          guard ended else { throw CancellationError() }
          if let failure {
            stats.note(failure.code)
            try await writer.write(ByteBuffer(bytes: Array("data: ".utf8) + JSON.encode(ErrorBody(failure)) + [10, 10]))
          } else if !text.isComplete {
            throw CancellationError()
          } else if plan.request.includeUsage {
            try await send([], usage: text.usage)
          }
          try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
        } onInboundClosed: {
          engine.cancel(job.id)
        }
        try await writer.finish(nil)
      })
  }
}

/// The choices of one completion as their events arrive: the text so far, its
/// log-probabilities and how each choice ended.
struct Completion {
  let plan: CompletionPlan
  private var ids: [[Int32]]
  private var logprobs: [[Double]]
  /// Per choice, per character: the alternatives of its draw.
  private var alternatives: [[[Alternative]]]
  private var finish: [FinishReason?]
  /// Unicode scalars sent so far per choice (echo included): where the next `text_offset` starts.
  private var offsets: [Int]
  /// Characters generated over all choices.
  private(set) var characters = 0

  init(plan: CompletionPlan) {
    self.plan = plan
    let n = plan.texts.count
    ids = Array(repeating: [], count: n)
    logprobs = Array(repeating: [], count: n)
    alternatives = Array(repeating: [], count: n)
    finish = Array(repeating: nil, count: n)
    offsets = Array(repeating: 0, count: n)
  }

  var isComplete: Bool { finish.allSatisfy { $0 != nil } }

  var usage: UsageBody { UsageBody(promptTokens: plan.promptCharacters, completionTokens: characters) }

  private var wantsLogprobs: Bool { plan.request.logprobs != nil }

  /// OpenAI's finish reasons: the end-of-text symbol is a `stop` too.
  static func reason(_ r: FinishReason) -> String { r == .length ? "length" : "stop" }

  /// Records `events`; returns one chunk per choice that changed (new characters or its end).
  /// - Throws: the ``ServeError`` the generation was stopped with.
  mutating func apply(_ events: [GenerationEvent]) throws(ServeError) -> [ChoiceBody] {
    var changed: [Int: (ids: [Int32], lps: [Double], tops: [[Alternative]], end: FinishReason?)] = [:]
    for e in events {
      switch e {
      case .token(let choice, let id, let lp, let top):
        ids[choice].append(id)
        logprobs[choice].append(lp)
        alternatives[choice].append(top)
        characters += 1
        changed[choice, default: ([], [], [], nil)].ids.append(id)
        changed[choice]!.lps.append(lp)
        changed[choice]!.tops.append(top)
      case .finished(let choice, let reason, _):
        finish[choice] = reason
        changed[choice, default: ([], [], [], nil)].end = reason
      case .failed(let error):
        throw error
      }
    }
    return changed.keys.sorted().map { k in
      let c = changed[k]!
      let lp = wantsLogprobs ? logprobsBody(c.ids, c.lps, c.tops, choice: k) : nil
      return ChoiceBody(
        text: plan.model.tokenizer.decode(c.ids), index: k, logprobs: lp, finishReason: c.end.map(Self.reason))
    }
  }

  /// With `echo`, a first chunk per choice holding its prompt.
  mutating func echoChunks() -> [ChoiceBody] {
    guard plan.request.echo else { return [] }
    return plan.texts.indices.map { k in
      let prompt = echoIDs(k)
      let lp = wantsLogprobs ? logprobsBody(prompt, nil, nil, choice: k) : nil
      return ChoiceBody(text: plan.prompt(ofChoice: k), index: k, logprobs: lp, finishReason: nil)
    }
  }

  /// Every choice whole, for a response that is not streamed.
  func choices() -> [ChoiceBody] {
    var copy = self
    copy.offsets = Array(repeating: 0, count: offsets.count)
    return plan.texts.indices.map { k in
      let prompt = plan.request.echo ? copy.echoIDs(k) : []
      var lp: LogprobsBody?
      if wantsLogprobs {
        var body = copy.logprobsBody(prompt, nil, nil, choice: k)
        let gen = copy.logprobsBody(ids[k], logprobs[k], alternatives[k], choice: k)
        body.tokens += gen.tokens
        body.tokenLogprobs += gen.tokenLogprobs
        if let top = gen.topLogprobs { body.topLogprobs = (body.topLogprobs ?? []) + top }
        body.textOffset += gen.textOffset
        lp = body
      }
      let echo = plan.request.echo ? plan.prompt(ofChoice: k) : ""
      return ChoiceBody(
        text: echo + plan.model.tokenizer.decode(ids[k]), index: k, logprobs: lp, finishReason: finish[k].map(Self.reason))
    }
  }

  /// The prompt ids that `echo` shows for choice `k` (none for an empty prompt).
  private func echoIDs(_ k: Int) -> [Int32] {
    plan.promptIDs[k / plan.request.n]
  }

  /// Tokens, log-probabilities and alternatives (nil: echoed prompt characters) and offsets of
  /// `ids`, which follow what choice `k` has sent so far.
  private mutating func logprobsBody(_ ids: [Int32], _ lps: [Double]?, _ tops: [[Alternative]]?, choice k: Int) -> LogprobsBody {
    var body = LogprobsBody()
    let wantsTop = (plan.request.logprobs ?? 0) > 0
    if wantsTop { body.topLogprobs = [] }
    for (i, id) in ids.enumerated() {
      let s = plan.model.tokenizer.symbol(id)
      body.tokens.append(s)
      body.tokenLogprobs.append(lps?[i])
      if wantsTop {
        body.topLogprobs!.append(
          tops.map { t in Dictionary(t[i].map { (plan.model.tokenizer.symbol($0.id), $0.logprob) }, uniquingKeysWith: { a, _ in a }) })
      }
      body.textOffset.append(offsets[k])
      offsets[k] += s.unicodeScalars.count
    }
    return body
  }
}
