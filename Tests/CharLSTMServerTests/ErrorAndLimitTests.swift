import Foundation
import Testing

/// Every error class in OpenAI's error shape, every limit, and clients that go away.
@Suite(.serialized) final class ErrorAndLimitTests {
  let server: ServerProcess
  var port: Int { server.port }

  init() throws {
    server = try ServerProcess([Fixtures.play], [
      "--max-tokens", "10000000", "--max-n", "4", "--max-prompt-characters", "50", "--max-body-bytes", "2000",
      "--max-concurrent", "2",
    ])
  }

  deinit { server.terminate() }

  /// Checks an error response: status, OpenAI's shape, and what its message and param say.
  func expectError(_ r: HTTP.Response, _ status: Int, code: String, param: String?, mentions: [String] = [],
                   sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(r.status == status, "\(r.text)", sourceLocation: sourceLocation)
    #expect(r.headers["content-type"] == "application/json", sourceLocation: sourceLocation)
    let e = try #require(try HTTP.json(r).error, sourceLocation: sourceLocation)
    #expect(Set(e.keys) == ["message", "type", "param", "code"], sourceLocation: sourceLocation)
    #expect(e["code"] as? String == code, sourceLocation: sourceLocation)
    if let param { #expect(e["param"] as? String == param, sourceLocation: sourceLocation) } else { #expect(e["param"] is NSNull, sourceLocation: sourceLocation) }
    let message = e["message"] as? String ?? ""
    for m in mentions { #expect(message.contains(m), "\(message)", sourceLocation: sourceLocation) }
  }

  @Test func malformedJSONIs400() throws {
    try expectError(HTTP.post(port, raw: Array("{\"model\": \"play\",".utf8)), 400, code: "invalid_json", param: nil)
    try expectError(HTTP.post(port, raw: []), 400, code: "invalid_json", param: nil, mentions: ["empty"])
    try expectError(HTTP.post(port, raw: Array("[1, 2]".utf8)), 400, code: "invalid_json", param: nil, mentions: ["an array"])
  }

  @Test func wrongTypesAre400NamingTheField() throws {
    let cases: [(String, Any, String)] = [
      ("max_tokens", "10", "an integer"), ("max_tokens", 2.5, "an integer"), ("temperature", "hot", "a number"),
      ("n", true, "an integer"), ("stream", 1, "true or false"), ("prompt", 5, "a string or a list"),
      ("stop", [1], "a string"), ("seed", -1, "0 to"), ("echo", "yes", "true or false"), ("top_k", [3], "an integer"),
    ]
    for (field, value, says) in cases {
      var body: [String: Any] = ["model": "play", "prompt": "R", "max_tokens": 3]
      body[field] = value
      let r = try HTTP.post(port, body)
      let param = field == "stop" ? "stop[0]" : field
      try expectError(r, 400, code: field == "seed" ? "invalid_value" : "invalid_type", param: param, mentions: [says])
    }
    try expectError(HTTP.post(port, ["model": 3]), 400, code: "invalid_type", param: "model")
    try expectError(HTTP.post(port, ["prompt": "R"]), 400, code: "missing_required_parameter", param: "model")
    try expectError(HTTP.post(port, ["model": "play", "prompt": [1, 2]]), 400, code: "invalid_type", param: "prompt", mentions: ["token-id"])
    try expectError(HTTP.post(port, ["model": "play", "temperature": 101]), 400, code: "invalid_value", param: "temperature")
    try expectError(HTTP.post(port, ["model": "play", "top_p": 0]), 400, code: "invalid_value", param: "top_p")
    try expectError(HTTP.post(port, ["model": "play", "logprobs": 6]), 400, code: "invalid_value", param: "logprobs")
  }

  @Test func unknownModelIs404() throws {
    try expectError(HTTP.post(port, ["model": "gpt-4", "prompt": "R"]), 404, code: "model_not_found", param: "model", mentions: ["gpt-4", "'play'"])
    try expectError(HTTP.get(port, "/v1/models/gpt-4"), 404, code: "model_not_found", param: "model")
    try expectError(HTTP.get(port, "/v1/chat"), 404, code: "not_found", param: nil, mentions: ["/v1/chat"])
  }

  @Test func promptCharactersOutsideTheVocabularyAre400NamingThem() throws {
    try expectError(HTTP.post(port, ["model": "play", "prompt": "ROMEO: Жук 🙂 Ж"]), 400, code: "unknown_characters", param: "prompt",
                    mentions: ["'Ж'", "'у'", "'к'", "'🙂'", "play"])
  }

  @Test func limitsAre400And413() throws {
    try expectError(HTTP.post(port, ["model": "play", "max_tokens": 10_000_001]), 400, code: "invalid_value", param: "max_tokens", mentions: ["10000000", "--max-tokens"])
    try expectError(HTTP.post(port, ["model": "play", "n": 5]), 400, code: "invalid_value", param: "n", mentions: ["--max-n"])
    try expectError(HTTP.post(port, ["model": "play", "n": 2, "prompt": ["a", "b", "c"]]), 400, code: "invalid_value", param: "n", mentions: ["2 × 3"])
    try expectError(HTTP.post(port, ["model": "play", "prompt": String(repeating: "to be ", count: 9)]), 400, code: "invalid_value", param: "prompt", mentions: ["54 characters", "--max-prompt-characters"])
    let big = "{\"model\": \"play\", \"prompt\": \"" + String(repeating: "a", count: 3000) + "\"}"
    try expectError(HTTP.post(port, raw: Array(big.utf8)), 413, code: "request_too_large", param: nil, mentions: ["2000", "--max-body-bytes"])
    // Still answering after all of them.
    #expect(try HTTP.post(port, ["model": "play", "prompt": "R", "max_tokens": 2]).status == 200)
  }

  /// Opens a streamed completion that runs for a long time and reads its first event.
  func holdStream() throws -> HTTPConnection {
    let c = try HTTPConnection(port: port)
    let body = ["model": "play", "prompt": "R", "max_tokens": 10_000_000, "stream": true, "seed": 1] as [String: Any]
    try c.send(method: "POST", path: "/v1/completions", body: Array(try JSONSerialization.data(withJSONObject: body)))
    let h = try c.readHead()
    #expect(h.status == 200)
    #expect(try c.nextEvents() != nil)
    return c
  }

  @Test func beyondTheConcurrencyLimitIs429WithRetryAfter() throws {
    let a = try holdStream()
    let b = try holdStream()
    let r = try HTTP.post(port, ["model": "play", "prompt": "R", "max_tokens": 2])
    try expectError(r, 429, code: "rate_limit_exceeded", param: nil, mentions: ["2 concurrent", "--max-concurrent"])
    #expect(r.headers["retry-after"] == "1")
    // Models and health are not limited.
    #expect(try HTTP.get(port, "/v1/models").status == 200)
    a.hangUp()
    b.hangUp()
    let h = try server.waitForHealth { ($0["requests"] as? Int) == 0 }
    #expect(h["requests"] as? Int == 0)
    #expect(try HTTP.post(port, ["model": "play", "prompt": "R", "max_tokens": 2]).status == 200)
  }

  @Test func aStreamingClientThatHangsUpStopsItsGeneration() throws {
    let c = try holdStream()
    let busy = try server.waitForHealth { ($0["rows"] as? Int) == 1 }
    #expect(busy["rows"] as? Int == 1)
    c.hangUp()
    // Ten million characters take this model a minute or more; the rows free long before.
    let h = try server.waitForHealth { ($0["rows"] as? Int) == 0 && ($0["requests"] as? Int) == 0 }
    #expect(h["rows"] as? Int == 0 && h["requests"] as? Int == 0, "\(h)")
    #expect(server.stderr.contains("client closed"))
  }

  @Test func aWaitingClientThatHangsUpStopsItsGeneration() throws {
    let c = try HTTPConnection(port: port)
    try c.send(method: "POST", path: "/v1/completions", body: Array(try JSONSerialization.data(withJSONObject: ["model": "play", "prompt": "R", "max_tokens": 10_000_000, "n": 3] as [String: Any])))
    let busy = try server.waitForHealth { ($0["rows"] as? Int) == 3 }
    #expect(busy["rows"] as? Int == 3)
    c.hangUp()
    let h = try server.waitForHealth { ($0["rows"] as? Int) == 0 && ($0["requests"] as? Int) == 0 }
    #expect(h["rows"] as? Int == 0 && h["requests"] as? Int == 0, "\(h)")
  }

  @Test func garbageOnTheSocketGetsAnAnswerNotAHang() throws {
    let c = try HTTPConnection(port: port)
    try c.write(Array("THIS IS NOT HTTP\r\n\r\n".utf8))
    let h = try c.readHead()
    #expect(h.status == 400)
    #expect(try HTTP.get(port, "/healthz").status == 200)
  }
}

/// The per-request time limit and shutdown on signals, each with a server of its own.
@Suite(.serialized) struct TimeLimitAndShutdownTests {
  @Test func aRequestPastTheTimeLimitIsStopped() throws {
    let server = try ServerProcess([Fixtures.play], ["--max-tokens", "10000000", "--request-timeout", "0.3"])
    defer { server.terminate() }
    // Ten million characters take this model a minute or more: the limit ends them first.
    let r = try HTTP.post(server.port, ["model": "play", "prompt": "R", "max_tokens": 10_000_000])
    #expect(r.status == 503)
    #expect(try HTTP.json(r).error?["code"] as? String == "timeout")
    let s = try HTTP.stream(server.port, ["model": "play", "prompt": "R", "max_tokens": 10_000_000])
    #expect(s.status == 200)
    #expect(s.events.last == "[DONE]")
    let error = try #require(s.events.dropLast().last)
    #expect(error.contains("\"code\":\"timeout\""))
    #expect(try server.waitForHealth { ($0["rows"] as? Int) == 0 }["rows"] as? Int == 0)
  }

  @Test func sigtermFinishesTheRunningRequestsAndExitsZero() throws {
    let server = try ServerProcess([Fixtures.play], ["--max-tokens", "10000000"])
    let c = try HTTPConnection(port: server.port)
    let n = 300_000
    try c.send(method: "POST", path: "/v1/completions", body: Array(try JSONSerialization.data(withJSONObject: ["model": "play", "prompt": "R", "max_tokens": n, "stream": true, "seed": 5] as [String: Any])))
    #expect(try c.readHead().status == 200)
    var events = try #require(try c.nextEvents())
    kill(server.process.processIdentifier, SIGTERM)
    while let e = try c.nextEvents() { events += e }
    // The request ran to its end after the signal.
    #expect(events.last == "[DONE]")
    let (texts, finish) = try HTTP.assemble(events)
    #expect(texts[0]?.count == n)
    #expect(finish[0] == "length")
    #expect(server.terminate() == 0)
    #expect(server.stderr.contains("shutting down: finishing 1 running request"))
    #expect(throws: (any Error).self) { try HTTPConnection(port: server.port) }
  }

  @Test func sigtermPastTheGraceEndsTheRequestsAndExitsZero() throws {
    let server = try ServerProcess([Fixtures.play], ["--max-tokens", "10000000", "--shutdown-grace", "0.2"])
    let c = try HTTPConnection(port: server.port)
    try c.send(method: "POST", path: "/v1/completions", body: Array(try JSONSerialization.data(withJSONObject: ["model": "play", "prompt": "R", "max_tokens": 10_000_000, "stream": true] as [String: Any])))
    #expect(try c.readHead().status == 200)
    var events = try #require(try c.nextEvents())
    kill(server.process.processIdentifier, SIGINT)
    while let e = try c.nextEvents() { events += e }
    #expect(events.last == "[DONE]")
    #expect(events.dropLast().last?.contains("server_shutting_down") == true)
    #expect(server.terminate() == 0)
    #expect(server.stderr.contains("shutdown deadline"))
  }

  @Test func precisionFp32ServesWhatGenerateFp32Gives() throws {
    let server = try ServerProcess([Fixtures.play], ["--precision", "fp32"])
    defer { server.terminate() }
    let o = try HTTP.json(HTTP.post(server.port, ["model": "play", "prompt": "ROMEO:", "max_tokens": 300, "seed": 8, "temperature": 0.6]))
    let expected = try Binary.generate(Fixtures.play, ["--prompt", "ROMEO:", "--length", "300", "--seed", "8", "--temperature", "0.6", "--precision", "fp32"])
    #expect(o.text() == expected[0])
  }

  @Test func startupErrorsAreOneLine() throws {
    let dup = try Binary.run(["serve", Fixtures.play, Fixtures.play, "--port", "0"])
    #expect(dup.status == 1)
    #expect(dup.stderr.contains("would both be served as model 'play'"))
    let missing = try Binary.run(["serve", "/nonexistent/x.safetensors", "--port", "0"])
    #expect(missing.status == 1)
    #expect(missing.stderr.split(separator: "\n").count == 1)
    let server = try ServerProcess()
    defer { server.terminate() }
    let taken = try Binary.run(["serve", Fixtures.play, "--port", "\(server.port)"])
    #expect(taken.status == 1)
    #expect(taken.stderr.contains("cannot listen on 127.0.0.1:\(server.port)"), "\(taken.stderr)")
    let bad = try Binary.run(["serve", Fixtures.play, "--max-n", "0"])
    #expect(bad.status == 64)
    #expect(bad.stderr.contains("--max-n 0 is invalid"))
  }
}
