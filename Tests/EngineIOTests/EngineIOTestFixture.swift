import EngineIO
import EngineIOProtocol
import Foundation
import HeraldTesting
import NIOCore
import Synchronization

/// Records what the server hands to delegates, and echoes messages back like the conformance suite's server.
/// Everything runs on the test's `EmbeddedEventLoop` thread; the lock only satisfies `@Sendable` captures.
final class SessionRecorder: Sendable {
    private let state = Mutex<State>(State())

    struct State {
        var sessions: [EngineIOSession] = []
        var messages: [EngineIOMessage] = []
        var closeReasons: [EngineIOCloseReason] = []
    }

    var sessions: [EngineIOSession] { state.withLock { $0.sessions } }
    var messages: [EngineIOMessage] { state.withLock { $0.messages } }
    var closeReasons: [EngineIOCloseReason] { state.withLock { $0.closeReasons } }
    var lastSession: EngineIOSession? { sessions.last }

    func opened(_ session: EngineIOSession) { state.withLock { $0.sessions.append(session) } }
    func received(_ message: EngineIOMessage) { state.withLock { $0.messages.append(message) } }
    func closed(_ reason: EngineIOCloseReason) { state.withLock { $0.closeReasons.append(reason) } }
}

/// Echoes every message (text as text, binary as binary) and reports to the recorder.
final class EchoDelegate: EngineIOSessionDelegate {
    let recorder: SessionRecorder
    let echo: Bool

    init(recorder: SessionRecorder, echo: Bool) {
        self.recorder = recorder
        self.echo = echo
    }

    func session(_ session: EngineIOSession, didReceive message: EngineIOMessage) {
        recorder.received(message)
        guard echo else { return }
        session.send(message)
    }

    func session(_ session: EngineIOSession, didCloseWith reason: EngineIOCloseReason) {
        recorder.closed(reason)
    }
}

/// An Engine.IO server on embedded connections, with the suite's short timers (300 ms / 200 ms) by default.
final class EngineIOFixture {
    static let path = "/engine.io/"
    static let handshakeURI = "/engine.io/?EIO=4&transport=polling"

    let engine: EngineIOServer
    let server: EmbeddedHTTPServer
    let recorder = SessionRecorder()

    init(_ configuration: EngineIOConfiguration = EngineIOFixture.suiteConfiguration(), echo: Bool = true) {
        engine = EngineIOServer(configuration: configuration)
        server = EmbeddedHTTPServer(engine: engine)
        let recorder = recorder
        engine.onSession { session in
            recorder.opened(session)
            session.delegate = EchoDelegate(recorder: recorder, echo: echo)
        }
    }

    static func suiteConfiguration(
        pingInterval: Duration = .milliseconds(300), pingTimeout: Duration = .milliseconds(200)
    ) -> EngineIOConfiguration {
        EngineIOConfiguration(pingInterval: pingInterval, pingTimeout: pingTimeout)
    }

    static func pollURI(_ sid: String) -> String { "/engine.io/?EIO=4&transport=polling&sid=\(sid)" }
    static func webSocketURI(_ sid: String? = nil) -> String {
        "/engine.io/?EIO=4&transport=websocket" + (sid.map { "&sid=\($0)" } ?? "")
    }

    /// Opens a polling session and returns its id.
    func handshake(headers: [(String, String)] = []) throws -> String {
        let response = try server.request("GET", Self.handshakeURI, headers: headers)
        guard let response, response.status == 200, response.bodyString.hasPrefix("0") else {
            throw FixtureError.handshakeFailed(response)
        }
        return try Self.openPayload(response.bodyString)["sid"] as? String ?? ""
    }

    /// A GET on a new connection; nil while the server holds it.
    func get(_ sid: String) throws -> HTTPTestResponse? { try server.request("GET", Self.pollURI(sid)) }

    /// A GET on a new connection, returned with its client so a held poll can be checked again later.
    func heldGet(_ sid: String) throws -> EmbeddedHTTPClient {
        let client = try server.connect()
        try client.request("GET", Self.pollURI(sid))
        return client
    }

    func post(_ sid: String, _ body: String, headers: [(String, String)] = []) throws -> HTTPTestResponse? {
        try server.request("POST", Self.pollURI(sid), headers: headers, body: body)
    }

    /// The JSON object after the `0` of an open packet.
    static func openPayload(_ packet: String) throws -> [String: Any] {
        let json = try JSONSerialization.jsonObject(with: Data(packet.dropFirst().utf8))
        return json as? [String: Any] ?? [:]
    }
}

enum FixtureError: Error {
    case handshakeFailed(HTTPTestResponse?)
}
