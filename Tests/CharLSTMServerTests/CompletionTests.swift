import Foundation
import Testing

/// `charlstm serve` as a client meets it, over real HTTP on a loopback port: the served texts
/// are the texts `charlstm generate` prints for the same options and seed.
@Suite(.serialized) final class CompletionTests {
  let server: ServerProcess
  var port: Int { server.port }
  var ckpt: String { Fixtures.play }

  init() throws {
    server = try ServerProcess([Fixtures.play, Fixtures.other])
  }

  deinit { server.terminate() }

  @Test func modelsListsEachCheckpointByFileName() throws {
    let r = try HTTP.get(port, "/v1/models")
    #expect(r.status == 200)
    #expect(r.headers["content-type"] == "application/json")
    let o = try HTTP.json(r)
    #expect(o["object"] as? String == "list")
    let data = try #require(o["data"] as? [[String: Any]])
    #expect(data.map { $0["id"] as? String } == ["play", "other"])
    #expect(data.allSatisfy { $0["object"] as? String == "model" && $0["owned_by"] as? String == "charlstm" && $0["created"] is Int })
    let one = try HTTP.json(HTTP.get(port, "/v1/models/other"))
    #expect(one["id"] as? String == "other")
    let health = try HTTP.get(port, "/healthz")
    #expect(health.status == 200)
    let status = try HTTP.json(health)["status"] as? String
    #expect(status == "ok")
  }

  @Test func completionEqualsGenerateWithTheSameOptions() throws {
    let r = try HTTP.post(port, [
      "model": "play", "prompt": "ROMEO:", "max_tokens": 80, "seed": 7, "temperature": 0.9, "top_k": 12, "top_p": 0.95,
    ])
    #expect(r.status == 200, "\(r.text)")
    let o = try HTTP.json(r)
    let expected = try Binary.generate(ckpt, ["--prompt", "ROMEO:", "--length", "80", "--seed", "7", "--temperature", "0.9", "--top-k", "12", "--top-p", "0.95"])
    #expect(o.text() == expected[0])
    #expect(o.text()?.count == 80)
    #expect(o.choice()?["finish_reason"] as? String == "length")
    #expect(o.choice()?["index"] as? Int == 0)
    #expect(o["object"] as? String == "text_completion")
    #expect(o["model"] as? String == "play")
    #expect((o["id"] as? String)?.hasPrefix("cmpl-") == true)
    let usage = try #require(o["usage"] as? [String: Any])
    #expect(usage["prompt_tokens"] as? Int == 6)
    #expect(usage["completion_tokens"] as? Int == 80)
    #expect(usage["total_tokens"] as? Int == 86)
    // The other model gives another text for the same request.
    let other = try HTTP.json(HTTP.post(port, ["model": "other", "prompt": "ROMEO:", "max_tokens": 80, "seed": 7, "temperature": 0.9, "top_k": 12, "top_p": 0.95]))
    #expect(other.text() != o.text())
    #expect(other.text() == (try Binary.generate(Fixtures.other, ["--prompt", "ROMEO:", "--length", "80", "--seed", "7", "--temperature", "0.9", "--top-k", "12", "--top-p", "0.95"]))[0])
  }

  @Test func streamedCompletionEqualsGenerate() throws {
    let s = try HTTP.stream(port, ["model": "play", "prompt": "JULIET:", "max_tokens": 120, "seed": 3])
    #expect(s.status == 200)
    #expect(s.headers["content-type"] == "text/event-stream")
    #expect(s.events.last == "[DONE]")
    #expect(s.events.count >= 2)
    let (texts, finish) = try HTTP.assemble(s.events)
    let expected = try Binary.generate(ckpt, ["--prompt", "JULIET:", "--length", "120", "--seed", "3", "--temperature", "1"])
    #expect(texts[0] == expected[0])
    #expect(finish[0] == "length")
    // Every chunk is OpenAI's shape.
    for e in s.events.dropLast() {
      let o = try #require(try JSONSerialization.jsonObject(with: Data(e.utf8)) as? [String: Any])
      #expect(o["object"] as? String == "text_completion")
      let c = try #require((o["choices"] as? [[String: Any]])?.first)
      #expect(c.keys.contains("finish_reason") && c.keys.contains("logprobs"))
    }
  }

  @Test func nChoicesAreGenerateCountStreams() throws {
    let args = ["--prompt", "All:", "--length", "40", "--seed", "11", "--temperature", "1.2"]
    let expected = try Binary.generate(ckpt, args, count: 3)
    #expect(expected.count == 3)
    let o = try HTTP.json(HTTP.post(port, ["model": "play", "prompt": "All:", "max_tokens": 40, "seed": 11, "temperature": 1.2, "n": 3]))
    #expect((0..<3).map { o.text($0) } == expected)
    #expect((0..<3).map { o.choice($0)?["index"] as? Int } == [0, 1, 2])
    #expect((o["usage"] as? [String: Any])?["completion_tokens"] as? Int == 120)
    let s = try HTTP.stream(port, ["model": "play", "prompt": "All:", "max_tokens": 40, "seed": 11, "temperature": 1.2, "n": 3])
    let (texts, finish) = try HTTP.assemble(s.events)
    #expect((0..<3).map { texts[$0] } == expected)
    #expect(finish == [0: "length", 1: "length", 2: "length"])
  }

  @Test func listPromptsGiveNChoicesEach() throws {
    let o = try HTTP.json(HTTP.post(port, ["model": "play", "prompt": ["ROMEO:", "JULIET:"], "max_tokens": 30, "seed": 5, "n": 2]))
    let a = try Binary.generate(ckpt, ["--prompt", "ROMEO:", "--length", "30", "--seed", "5", "--temperature", "1"], count: 2)
    let b = try Binary.generate(ckpt, ["--prompt", "JULIET:", "--length", "30", "--seed", "5", "--temperature", "1"], count: 2)
    #expect((0..<4).map { o.text($0) } == a + b)
    #expect((o["usage"] as? [String: Any])?["prompt_tokens"] as? Int == 6 + 7)
  }

  @Test func emptyPromptStartsWhereGenerateStarts() throws {
    let o = try HTTP.json(HTTP.post(port, ["model": "play", "max_tokens": 50, "seed": 9, "temperature": 0.7]))
    #expect(o.text() == (try Binary.generate(ckpt, ["--length", "50", "--seed", "9", "--temperature", "0.7"]))[0])
    #expect((o["usage"] as? [String: Any])?["prompt_tokens"] as? Int == 0)
  }

  @Test func stopEndsTheTextBeforeTheStopText() throws {
    let body: [String: Any] = ["model": "play", "prompt": "ROMEO:", "max_tokens": 150, "seed": 21]
    let full = try #require(try HTTP.json(HTTP.post(port, body)).text())
    // A two-character stop that occurs in the text (not at its very start).
    let chars = Array(full)
    let stop = String(chars[20..<22])
    let cut = try #require(full.range(of: stop)).lowerBound
    var withStop = body
    withStop["stop"] = ["\u{1}never", stop]
    let o = try HTTP.json(HTTP.post(port, withStop))
    #expect(o.text() == String(full[..<cut]))
    #expect(o.choice()?["finish_reason"] as? String == "stop")
    let s = try HTTP.stream(port, withStop)
    let (texts, finish) = try HTTP.assemble(s.events)
    #expect(texts[0] == String(full[..<cut]))
    #expect(finish[0] == "stop")
    // `charlstm generate --stop` gives the same text.
    let generated = try Binary.generate(ckpt, ["--prompt", "ROMEO:", "--length", "150", "--seed", "21", "--temperature", "1", "--stop", stop])
    #expect(o.text() == generated[0])
    // A single string works as well, and a stop of unknown characters never ends a text.
    withStop["stop"] = "Ж"
    #expect(try HTTP.json(HTTP.post(port, withStop)).text() == full)
  }

  @Test func echoPutsThePromptFirst() throws {
    let body: [String: Any] = ["model": "play", "prompt": "JULIET:", "max_tokens": 25, "seed": 4]
    let plain = try #require(try HTTP.json(HTTP.post(port, body)).text())
    var echo = body
    echo["echo"] = true
    #expect(try HTTP.json(HTTP.post(port, echo)).text() == "JULIET:" + plain)
    let (texts, _) = try HTTP.assemble(HTTP.stream(port, echo).events)
    #expect(texts[0] == "JULIET:" + plain)
    // max_tokens 0 with echo: the prompt alone, as OpenAI's scoring idiom.
    echo["max_tokens"] = 0
    let zero = try HTTP.json(HTTP.post(port, echo))
    #expect(zero.text() == "JULIET:")
    #expect(zero.choice()?["finish_reason"] as? String == "length")
  }

  @Test func logprobsDescribeEachCharacter() throws {
    let o = try HTTP.json(HTTP.post(port, ["model": "play", "prompt": "AR", "max_tokens": 30, "seed": 2, "logprobs": 1, "echo": true]))
    let lp = try #require(o.choice()?["logprobs"] as? [String: Any])
    let tokens = try #require(lp["tokens"] as? [String])
    #expect(tokens.count == 32)
    #expect(tokens.joined() == o.text())
    let values = try #require(lp["token_logprobs"] as? [Any])
    #expect(values.prefix(2).allSatisfy { $0 is NSNull })
    let drawn = values.dropFirst(2).compactMap { $0 as? Double }
    #expect(drawn.count == 30 && drawn.allSatisfy { $0 <= 0 && $0.isFinite })
    let offsets = try #require(lp["text_offset"] as? [Int])
    #expect(offsets.first == 0 && offsets == offsets.sorted() && offsets.count == 32)
    // logprobs 1: per character the single most likely one; echoed characters null.
    let top = try #require(lp["top_logprobs"] as? [Any])
    #expect(top.count == 32 && top.prefix(2).allSatisfy { $0 is NSNull })
    #expect(top.dropFirst(2).allSatisfy { ($0 as? [String: Double])?.count == 1 })
    let zero = try HTTP.json(HTTP.post(port, ["model": "play", "prompt": "AR", "max_tokens": 5, "seed": 2, "logprobs": 0]))
    let lp0 = try #require(zero.choice()?["logprobs"] as? [String: Any])
    #expect((lp0["tokens"] as? [String])?.count == 5)
    #expect(lp0["top_logprobs"] is NSNull, "logprobs 0 asks for no alternatives")
    // Without logprobs the field is null.
    let plain = try HTTP.json(HTTP.post(port, ["model": "play", "prompt": "AR", "max_tokens": 3]))
    #expect(plain.choice()?["logprobs"] is NSNull)
  }

  /// `top_logprobs` describes the distribution each character was drawn from: with top-k 2
  /// its two entries hold all the probability and one of them is the drawn character; without
  /// a restriction, five entries that are the most likely (the drawn character among them with
  /// its own logprob, or less likely than each). The streamed chunks carry the same figures.
  @Test func topLogprobsAreTheDrawsDistribution() throws {
    func logprobs(_ o: [String: Any]) throws -> (tokens: [String], lps: [Double], top: [[String: Double]]) {
      let lp = try #require(o.choice()?["logprobs"] as? [String: Any])
      return try (
        #require(lp["tokens"] as? [String]), #require(lp["token_logprobs"] as? [Double]),
        #require(lp["top_logprobs"] as? [[String: Double]])
      )
    }
    let k2 = try logprobs(HTTP.json(HTTP.post(port, ["model": "play", "prompt": "ROMEO:", "max_tokens": 40, "seed": 5, "logprobs": 3, "top_k": 2])))
    #expect(k2.top.count == 40)
    for (i, t) in k2.top.enumerated() {
      #expect(t.count == 2, "top-k 2 leaves two candidates, not \(t.count)")
      #expect(abs(t.values.map { exp($0) }.reduce(0, +) - 1) < 1e-9, "character \(i): the two candidates hold all the probability")
      #expect(t[k2.tokens[i]].map { abs($0 - k2.lps[i]) < 1e-12 } == true, "character \(i) is one of them, with its logprob")
    }
    let body: [String: Any] = ["model": "play", "prompt": "ROMEO:", "max_tokens": 40, "seed": 6, "logprobs": 5, "temperature": 1]
    let full = try logprobs(HTTP.json(HTTP.post(port, body)))
    for (i, t) in full.top.enumerated() {
      #expect(t.count == 5)
      let mass = t.values.map { exp($0) }.reduce(0, +)
      #expect(mass <= 1 + 1e-9, "character \(i): five characters hold \(mass)")
      if let own = t[full.tokens[i]] {
        #expect(abs(own - full.lps[i]) < 1e-12, "character \(i) among the five, with its own logprob")
      } else {
        #expect(t.values.min()! >= full.lps[i] - 1e-12, "character \(i) is not among the five: all five are at least as likely")
      }
    }
    var streamed = body
    streamed["stream"] = true
    let s = try HTTP.stream(port, streamed)
    var top: [[String: Double]] = []
    for e in s.events.dropLast() {
      let c = try #require(try JSONSerialization.jsonObject(with: Data(e.utf8)) as? [String: Any])
      for choice in (c["choices"] as? [[String: Any]]) ?? [] {
        if let lp = choice["logprobs"] as? [String: Any], let t = lp["top_logprobs"] as? [[String: Double]] { top += t }
      }
    }
    #expect(top == full.top, "the stream carries the same alternatives")
  }

  @Test func unknownFieldsAreIgnoredAndNullsAreDefaults() throws {
    let o = try HTTP.post(port, [
      "model": "play", "prompt": "R", "max_tokens": 5, "seed": 1, "user": "someone", "presence_penalty": 0,
      "suffix": NSNull(), "temperature": NSNull(), "something_new": ["a": 1],
    ])
    #expect(o.status == 200, "\(o.text)")
    // OpenAI's default max_tokens is 16.
    #expect(try HTTP.json(HTTP.post(port, ["model": "play", "prompt": "R"])).text()?.count == 16)
  }

  @Test func manyConcurrentSeededRequestsEqualEachAlone() throws {
    // 24 different requests (seeds, prompts, options, streamed or not, two models), first one
    // by one, then all at once: every text is the same, and they were generated together.
    let prompts = ["ROMEO:", "JULIET: that", "", "All: whether"]
    var requests: [[String: Any]] = []
    for i in 0..<24 {
      var r: [String: Any] = ["prompt": prompts[i % 4], "max_tokens": 2000 + 50 * i, "seed": 100 + i]
      r["model"] = i % 5 == 4 ? "other" : "play"
      r["temperature"] = [0.5, 1.0, 1.5][i % 3]
      r["top_k"] = i % 2 == 0 ? 0 : 8
      r["n"] = i % 6 == 0 ? 2 : 1
      r["stream"] = i % 2 == 1
      requests.append(r)
    }
    // A server of its own, so that its peak batch is this test's.
    let server = try ServerProcess([Fixtures.play, Fixtures.other])
    defer { server.terminate() }
    let port = server.port
    let alone = try requests.map { try Self.complete(port, $0) }
    // One at a time, a batch holds one request's choices (n ≤ 2).
    #expect(try HTTP.json(HTTP.get(port, "/healthz"))["peak_rows"] as? Int == 2)
    let together = Results(count: requests.count)
    let all = requests.map { Request($0) }
    parallel(requests.count) { i in together[i] = (try? Self.complete(port, all[i].body)) ?? [-1: "failed"] }
    let peak = try #require(try HTTP.json(HTTP.get(port, "/healthz"))["peak_rows"] as? Int)
    #expect(peak > 2, "the concurrent requests were never stepped together")
    for i in requests.indices {
      #expect(together[i] == alone[i], "request \(i)")
      #expect(alone[i].count == ((requests[i]["n"] as? Int) ?? 1))
    }
    let log = server.stderr
    #expect(log.contains("POST /v1/completions 200 · "))
  }

  /// The texts of a completion, streamed or not, by choice index.
  static func complete(_ port: Int, _ r: [String: Any]) throws -> [Int: String] {
    if r["stream"] as? Bool == true { return try HTTP.assemble(HTTP.stream(port, r).events).texts }
    let o = try HTTP.json(HTTP.post(port, r))
    var out: [Int: String] = [:]
    for i in 0..<((o["choices"] as? [Any])?.count ?? 0) { out[i] = o.text(i) }
    return out
  }
}

/// A request body handed to another thread (read only).
struct Request: @unchecked Sendable {
  let body: [String: Any]
  init(_ b: [String: Any]) { body = b }
}

/// One result slot per thread.
final class Results: @unchecked Sendable {
  private var values: [[Int: String]]
  private let lock = NSLock()
  init(count: Int) { values = Array(repeating: [:], count: count) }
  subscript(i: Int) -> [Int: String] {
    get { lock.withLock { values[i] } }
    set { lock.withLock { values[i] = newValue } }
  }
}
