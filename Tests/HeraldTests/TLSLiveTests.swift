import Foundation
import Herald
import HeraldRedis
import HeraldTesting
import Logging
import NIOSSL
import SocketIOClient
import SocketIOProtocol
import Testing

/// The listeners over TLS, with a CA and certificates the tests make with `openssl` (`TestCertificates`):
/// python-socketio over wss:// and https:// polling, the publish API over https (and mutual TLS), certificate reload
/// (`reloadTLS`, what `herald serve` runs on SIGHUP), and hostile bytes at a TLS listener.
@Suite(.serialized, .enabled(if: TestEnvironment.python != nil || TestEnvironment.isCI,
                              "HERALD_TEST_PYTHON is unset: run scripts/test.sh to set up python-socketio"))
struct TLSLiveTests {
    static let key = "tls-test-key"

    static func configuration(_ certificates: TestCertificates, clientCA: Bool = false) -> HeraldConfiguration {
        var configuration = HeraldConfiguration(host: "127.0.0.1", port: 0, threads: 1, preDrainDelay: .zero,
                                                drainWindow: .zero, drainTimeout: .seconds(1))
        configuration.socketIO.engine.connectionLimits.requestHeadTimeout = .milliseconds(500)
        configuration.tls = ListenerTLSConfiguration(certificateFile: certificates.serverCertificateFile,
                                                     keyFile: certificates.serverKeyFile)
        configuration.publishing = PublishingConfiguration(apiPort: 0, apiKey: key)
        configuration.publishing.apiTLS = ListenerTLSConfiguration(
            certificateFile: certificates.serverCertificateFile, keyFile: certificates.serverKeyFile,
            clientCAFile: clientCA ? certificates.caFile : nil)
        return configuration
    }

    static func node(_ configuration: HeraldConfiguration) -> HeraldNode {
        var logger = Logger(label: "tls-test")
        logger.logLevel = .warning
        return HeraldNode(configuration: configuration, logger: logger)
    }

    static func withAgent(_ body: (ClientAgent) async throws -> Void) async throws {
        guard let python = TestEnvironment.python else {
            Issue.record("CI is set but HERALD_TEST_PYTHON is not: run scripts/test.sh")
            return
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("herald-tls-agent-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let agent = try await ClientAgent(python: python, directory: directory)
        do {
            try await body(agent)
        } catch {
            await agent.close()
            throw error
        }
        await agent.close()
    }

    static func publish(_ room: String, _ data: JSONValue, apiPort: Int, tls: NIOSSLContext) async throws -> PublishClient.Response {
        let body: JSONValue = ["rooms": [.string(room)], "event": "news", "data": data]
        return try await PublishClient.publish(url: "https://127.0.0.1:\(apiPort)", key: key, body: body.jsonString, tls: tls)
    }

    /// python-socketio over wss:// and over https:// polling: an acknowledged event each way, and a publish through
    /// the API over https (trusting the test CA; the system's roots do not know it) reaching both.
    @Test func pythonClientsAndThePublishAPIOverTLS() async throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        try await withRunningNode(Self.node(Self.configuration(certificates))) { node, port in
            let apiPort = try #require(node.apiListeningAddress?.port)
            let trusted = try PublishClient.tlsContext(caFile: certificates.caFile)
            try await Self.withAgent { agent in
                for transport in ["websocket", "polling"] {
                    let sid = try await agent.connect(transport, url: "https://127.0.0.1:\(port)", transport: transport,
                                                      ca: certificates.caFile)
                    let joined = try await agent.call(transport, "chat:join", ["room": "chat:tls"])
                    #expect(joined["ok"] == true, "\(transport): \(joined)")
                    let answer = try await Self.publish(sid, ["over": .string(transport)], apiPort: apiPort, tls: trusted)
                    #expect(answer.status == 202, "\(answer.body)")
                    #expect(try await agent.next(transport, event: "news") == [["over": .string(transport)]])
                }
            }
            // Without the test CA the API's certificate is refused.
            await #expect(throws: (any Error).self) {
                _ = try await Self.publish("x", nil, apiPort: apiPort, tls: PublishClient.tlsContext())
            }
        }
    }

    /// The Swift client over wss:// and https:// polling (the URL's scheme picks TLS, `tls` trusts the test CA):
    /// an acknowledged event and a publish reaching it; without the CA the connection fails.
    @Test(arguments: [SocketIOClientTransport.websocket, .polling])
    func swiftClientOverTLS(transport: SocketIOClientTransport) async throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        try await withRunningNode(Self.node(Self.configuration(certificates))) { node, port in
            let apiPort = try #require(node.apiListeningAddress?.port)
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(certificates.caFile)
            let scheme = transport == .websocket ? "wss" : "https"
            let manager = try SocketIOManager(url: "\(scheme)://127.0.0.1:\(port)", configuration: SocketIOClientConfiguration(
                transports: [transport], upgrade: false, reconnection: false, connectTimeout: .seconds(5)), tls: tls)
            let socket = manager.socket()
            let events = socket.events()
            try await socket.connect()
            #expect(manager.transport == transport)
            let joined = try await socket.emitWithAck("chat:join", ["room": "chat:tls"], timeout: .seconds(5))
            #expect(joined.first?["ok"] == true, "\(joined)")
            let answer = try await Self.publish(try #require(socket.id), ["to": "swift"], apiPort: apiPort,
                                                tls: PublishClient.tlsContext(caFile: certificates.caFile))
            #expect(answer.status == 202, "\(answer.body)")
            var received: [JSONValue]?
            for await event in events where event.name == "news" {
                received = event.args
                break
            }
            #expect(received == [["to": "swift"]])
            await manager.shutdown()

            let untrusting = try SocketIOManager(url: "\(scheme)://127.0.0.1:\(port)", configuration: SocketIOClientConfiguration(
                transports: [transport], reconnection: false, connectTimeout: .seconds(5)))
            await #expect(throws: (any Error).self) { try await untrusting.socket().connect() }
            await untrusting.shutdown()
        }
    }

    /// With a client CA the API takes only clients showing a certificate from it.
    @Test func apiWithClientCARequiresAClientCertificate() async throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        try await withRunningNode(Self.node(Self.configuration(certificates, clientCA: true))) { node, _ in
            let apiPort = try #require(node.apiListeningAddress?.port)
            await #expect(throws: (any Error).self) {
                _ = try await Self.publish("x", nil, apiPort: apiPort, tls: PublishClient.tlsContext(caFile: certificates.caFile))
            }
            // The client side of mutual TLS is the Redis TLS settings' code (as for `herald publish --client-cert`).
            let withCertificate = try RedisTLSConfiguration(
                caFile: certificates.caFile, certificateFile: certificates.clientCertificateFile,
                keyFile: certificates.clientKeyFile).makeContext()
            let answer = try await Self.publish("x", nil, apiPort: apiPort, tls: withCertificate)
            #expect(answer.status == 202, "\(answer.body)")
        }
    }

    /// A reload serves the renewed certificate to new connections while an open one stays up; a bad file keeps the
    /// current certificate (reloadTLS answers false) and the node serves on.
    @Test func reloadServesTheNewCertificateAndKeepsOpenConnections() async throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        try await withRunningNode(Self.node(Self.configuration(certificates))) { node, port in
            let apiPort = try #require(node.apiListeningAddress?.port)
            let trusted = try PublishClient.tlsContext(caFile: certificates.caFile)
            let original = try Self.serial(certificates.serverCertificateFile)
            #expect(try await TLSProbe.servedSerial(port: port, caFile: certificates.caFile) == original)
            try await Self.withAgent { agent in
                let sid = try await agent.connect("kept", url: "https://127.0.0.1:\(port)", transport: "websocket",
                                                  ca: certificates.caFile)
                let renewed = try Self.renew(certificates)
                #expect(renewed != original)
                #expect(node.reloadTLS())
                #expect(try await TLSProbe.servedSerial(port: port, caFile: certificates.caFile) == renewed)
                #expect(try await TLSProbe.servedSerial(port: apiPort, caFile: certificates.caFile) == renewed)
                // The connection made before the reload is still up.
                _ = try await Self.publish(sid, ["after": "reload"], apiPort: apiPort, tls: trusted)
                #expect(try await agent.next("kept", event: "news") == [["after": "reload"]])

                try Data("not a certificate".utf8).write(to: URL(fileURLWithPath: certificates.serverCertificateFile))
                #expect(!node.reloadTLS())
                #expect(try await TLSProbe.servedSerial(port: port, caFile: certificates.caFile) == renewed)
                _ = try await agent.connect("fresh", url: "https://127.0.0.1:\(port)", transport: "polling", ca: certificates.caFile)
            }
        }
    }

    /// Plain HTTP to the TLS listener, a garbage handshake and a silent connection are closed; the node serves on
    /// and counts no connection left open.
    @Test func plainHTTPAndGarbageHandshakesAreClosed() async throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        try await withRunningNode(Self.node(Self.configuration(certificates))) { node, port in
            let plain = try await tcpExchange("GET /health HTTP/1.1\r\nHost: x\r\n\r\n", port: port)
            #expect(!plain.contains("HTTP/1.1"), "\(plain.debugDescription)")
            let garbage = try await tcpExchange("\u{16}\u{03}\u{01}\u{00}\u{40}" + String(repeating: "garbage!", count: 16), port: port)
            #expect(!garbage.contains("HTTP/1.1"))
            // A handshake that never comes ends at the request head timeout (500 ms here).
            _ = try await tcpExchange("", port: port)
            #expect(node.io.engine.edgeStats.requestHeadTimeouts >= 1)
            #expect(await eventually { node.io.engine.edgeStats.openConnections == 0 })
            #expect(try await TLSProbe.servedSerial(port: port, caFile: certificates.caFile)
                    == Self.serial(certificates.serverCertificateFile))
        }
    }

    /// The serial of a PEM certificate file, as `TLSProbe` reports served ones.
    static func serial(_ file: String) throws -> String {
        TLSProbe.hex(try #require(try NIOSSLCertificate.fromPEMFile(file).first).serialNumber)
    }

    /// Puts a renewed certificate and key in place of the server's files; returns the new serial.
    static func renew(_ certificates: TestCertificates) throws -> String {
        let renewal = try certificates.issueServerCertificate("renewed")
        for (from, to) in [(renewal.certificate, certificates.serverCertificateFile), (renewal.key, certificates.serverKeyFile)] {
            // rename(2), as a deployment swaps renewed files in.
            guard rename(from, to) == 0 else { throw TestFailure("rename \(from) failed") }
        }
        return try serial(certificates.serverCertificateFile)
    }
}
