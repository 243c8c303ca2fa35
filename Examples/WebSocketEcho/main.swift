#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore
import NIOPosix
import HeraldWebSocket

// Echo server for the RFC 6455 fuzzing suite: every message goes back unchanged.

/// Echoes on the connection's own loop; holds no state, so one instance serves all connections.
final class EchoDelegate: WebSocketConnectionDelegate {
    func webSocket(_ connection: WebSocketConnection, didReceive message: WebSocketMessage) {
        connection.send(message)
    }

    func webSocket(_ connection: WebSocketConnection, didCloseWith code: WebSocketCloseCode, reason: String) {}
}

func usage(_ problem: String? = nil) -> Never {
    if let problem { print("WebSocketEcho: \(problem)") }
    print("usage: WebSocketEcho [--host 127.0.0.1] [--port 9001]")
    exit(problem == nil ? 0 : 2)
}

var host = "127.0.0.1"
var port = 9001
var arguments = CommandLine.arguments.dropFirst()
while let argument = arguments.popFirst() {
    switch argument {
    case "--host":
        guard let value = arguments.popFirst() else { usage("--host needs a value") }
        host = value
    case "--port":
        guard let value = arguments.popFirst(), let number = Int(value), (0...65535).contains(number) else {
            usage("--port needs a number from 0 to 65535")
        }
        port = number
    case "-h", "--help":
        usage()
    default:
        usage("unknown argument \(argument)")
    }
}

// Autobahn's 9.x cases send messages and frames of up to 16 MiB.
let configuration = WebSocketConfiguration(maxFrameSize: 16 << 20, maxMessageSize: 16 << 20)
let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
let channel = try WebSocketServer.bind(
    host: host, port: port, configuration: configuration, group: group,
    onConnection: { connection, _ in
        connection.delegate = EchoDelegate()
    }
).wait()
print("WebSocketEcho listening on ws://\(host):\(channel.localAddress?.port ?? port)")
fflush(nil)   // flush all streams: scripts wait for this line through a pipe
try channel.closeFuture.wait()
