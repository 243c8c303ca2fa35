import Testing

/// A test client that speaks raw Engine.IO/Socket.IO text, over a real websocket (`RawSocketIOClient`) or an
/// embedded transport (`EmbeddedSocketIOClient`): tests assert the exact packets the server writes.
public protocol SocketIOWireClient: Sendable {
    /// Sends one Engine.IO text packet (`40`, `42[…]`, …).
    func send(_ text: String)
    /// Sends one binary message (an attachment).
    func send(binary bytes: [UInt8])
    /// Every message the server sent, Engine.IO pings included, in order; finished when the connection closes.
    var frames: Mailbox<Frame> { get }
}

extension SocketIOWireClient {
    /// The next message; Engine.IO pings `2` are skipped unless `skipPings` is false. Throws when the
    /// connection closes first or nothing arrives within `timeout`.
    public func next(timeout: Duration = .seconds(5), skipPings: Bool = true) async throws -> Frame {
        while true {
            guard let frame = try await frames.next(timeout: timeout) else {
                throw UnexpectedFrame(description: "connection closed while waiting for a frame")
            }
            if skipPings, frame == .text("2") { continue }
            return frame
        }
    }

    /// Waits for the server to close the connection; other frames before the close are returned.
    @discardableResult
    public func expectClosed(timeout: Duration = .seconds(5)) async throws -> [Frame] {
        var before: [Frame] = []
        while let frame = try await frames.next(timeout: timeout) {
            if frame != .text("2") { before.append(frame) }
        }
        return before
    }

    public func nextText(timeout: Duration = .seconds(5), skipPings: Bool = true) async throws -> String {
        let frame = try await next(timeout: timeout, skipPings: skipPings)
        guard case .text(let text) = frame else { throw UnexpectedFrame(description: "expected text, got \(frame)") }
        return text
    }

    public func nextBinary(timeout: Duration = .seconds(5)) async throws -> [UInt8] {
        let frame = try await next(timeout: timeout, skipPings: true)
        guard case .binary(let bytes) = frame else { throw UnexpectedFrame(description: "expected binary, got \(frame)") }
        return bytes
    }

    /// Sends CONNECT (unless the test already did) and returns the socket id from the `40[nsp,]{"sid":…}` reply.
    @discardableResult
    public func connect(namespace: String = "/", auth: String? = nil, alreadySent: Bool = false) async throws -> String {
        let prefix = namespace == "/" ? "" : namespace + ","
        if !alreadySent { send("40" + prefix + (auth ?? "")) }
        let reply = try await nextText()
        guard reply.hasPrefix("40" + prefix), let sid = reply.jsonStringField("sid") else {
            throw UnexpectedFrame(description: "expected CONNECT reply for \(namespace), got \(reply)")
        }
        // The reply's JSON is exactly {"sid":"…"} (no pid without connection state recovery).
        #expect(reply == "40\(prefix){\"sid\":\"\(sid)\"}")
        return sid
    }

    /// Sends `42[nsp,][id]["event",args…]`; `args` are raw JSON texts.
    public func emit(_ event: String, _ args: String..., namespace: String = "/", ackID: Int? = nil) {
        let prefix = namespace == "/" ? "" : namespace + ","
        let payload = (["\"\(event)\""] + args).joined(separator: ",")
        send("42" + prefix + (ackID.map(String.init) ?? "") + "[" + payload + "]")
    }

    /// Reads the next message and checks it is exactly the event `42[nsp,]["event",args…]`.
    public func expectEvent(_ event: String, _ args: String..., namespace: String = "/",
                            sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let prefix = namespace == "/" ? "" : namespace + ","
        let expected = "42" + prefix + "[" + (["\"\(event)\""] + args).joined(separator: ",") + "]"
        let text = try await nextText()
        #expect(text == expected, sourceLocation: sourceLocation)
    }
}
