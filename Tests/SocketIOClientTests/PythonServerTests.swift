import HeraldTesting
import Foundation
import NIOCore
import NIOPosix
import SocketIOClient
import SocketIOProtocol
import Testing

/// The Swift client against a server nobody here wrote: python-socketio's AsyncServer on uvicorn
/// (Tests/python/sio_server.py), started by the test. `scripts/test.sh` provides the Python; in CI a missing
/// one fails instead of skipping.
@Suite(.serialized, .enabled(if: TestEnvironment.python != nil || TestEnvironment.isCI,
                              "HERALD_TEST_PYTHON is unset: run scripts/test.sh to set up python-socketio"))
struct PythonServerTests {
    @Test(arguments: [TransportSetup.websocket, .polling, .pollingUpgrade])
    func talksToPythonSocketIO(setup: TransportSetup) async throws {
        let server = try await PythonServer.start()
        defer { server.stop() }
        let refusedClient = TestClient(port: server.port, configuration: setup.configuration)
        let refused = refusedClient.manager.socket(auth: ["token": "bad"])
        await #expect(throws: SocketIOConnectError.self) { try await refused.connect() }
        await refusedClient.shutdown()

        let client = TestClient(port: server.port, configuration: setup.configuration)
        let socket = client.manager.socket(auth: ["token": "good"])
        let events = socket.events()
        socket.on("question") { event in event.ack(["answer": event.args.first ?? .null]) }
        try await socket.connect()
        #expect(await events.next(named: "auth")?.args == [["token": "good"]])

        socket.emit("message", "hello")
        #expect(await events.next(named: "message-back")?.args == ["hello"])

        let ack = try await socket.emitWithAck("message-with-ack", 1, "two", .binary(ByteBuffer(bytes: [3, 4])), timeout: .seconds(5))
        #expect(ack == [1, "two", .binary(ByteBuffer(bytes: [3, 4]))])

        socket.emit("ask-client", 42)
        #expect(await events.next(named: "client-answered")?.args == [["answer": 42]])

        socket.disconnect()
        await client.shutdown()
    }
}

/// One python-socketio server process on a free port.
final class PythonServer: Sendable {
    let port: Int
    private let process: Process

    private init(port: Int, process: Process) {
        self.port = port
        self.process = process
    }

    static func start() async throws -> PythonServer {
        guard let python = TestEnvironment.python else { throw PythonServerError("HERALD_TEST_PYTHON is unset: run scripts/test.sh") }
        let port = try await freePort()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tests/python/sio_server.py").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, String(port)]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let server = PythonServer(port: port, process: process)
        // Ready when it accepts a connection; a bounded wait that fails the test.
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            if !process.isRunning { throw PythonServerError("sio_server.py exited with \(process.terminationStatus)") }
            if let channel = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connect(host: "127.0.0.1", port: port).get() {
                try? await channel.close()
                return server
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        server.stop()
        throw PythonServerError("sio_server.py did not listen on \(port) within 20 s")
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

struct PythonServerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
