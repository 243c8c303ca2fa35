// The seed's order-status server written against Herald's Socket.IO API:
// token check in middleware, a personal room per user, `subscribe:order` joining `order:<id>`,
// and `order:updated` pushed to that room when the backend reports a status change.
//
//   swift run OrderStatus                      # listens on 127.0.0.1:3001
//   curl -X POST localhost:3001/orders/123/status -d shipped
import EngineIO
import Logging
import NIOCore
import NIOPosix
import SocketIO
import SocketIOProtocol

/// Stand-in for JWT verification (the herald gateway verifies real JWTs): token → user id.
let demoTokens = ["token-alice": "alice", "token-bob": "bob"]
/// Which orders each user may follow.
let orderOwners = ["123": "alice", "456": "bob"]

var port = 3001
if let index = CommandLine.arguments.firstIndex(of: "--port"), index + 1 < CommandLine.arguments.count,
   let value = Int(CommandLine.arguments[index + 1]) {
    port = value
}

let logger = Logger(label: "order-status")
var configuration = SocketIOConfiguration()
configuration.engine.pingInterval = .seconds(25)
configuration.engine.pingTimeout = .seconds(10)
let io = SocketIOServer(configuration: configuration, logger: logger)

io.use { socket in
    guard let token = socket.handshake.auth["token"]?.stringValue, let userID = demoTokens[token] else {
        throw ConnectError("Authentication failed")
    }
    socket.data = ["userId": .string(userID)]
}

io.onConnection { socket in
    let userID = socket.data["userId"]?.stringValue ?? ""
    logger.info("connected", metadata: ["user": "\(userID)", "sid": "\(socket.id)"])
    socket.join("user:\(userID)")

    socket.on("subscribe:order") { event in
        guard let orderID = event[0]?.stringValue ?? event[0]?.intValue.map(String.init) else {
            event.ack(["ok": false, "error": "orderId must be a string"])
            return
        }
        // Unlike the seed, only the order's owner may follow it.
        guard orderOwners[orderID] == userID else {
            event.ack(["ok": false, "error": "forbidden"])
            return
        }
        socket.join("order:\(orderID)")
        event.ack(["ok": true])
    }

    socket.onDisconnect { reason in
        logger.info("disconnected", metadata: ["user": "\(userID)", "reason": "\(reason)"])
    }
}

// The backend's side: POST /orders/<id>/status with the new status as the body.
io.engine.setRoutes { request in
    let parts = request.path.split(separator: "/")
    guard request.method == .POST, parts.count == 3, parts[0] == "orders", parts[2] == "status" else { return nil }
    let orderID = String(parts[1])
    let status = request.body.map { String(buffer: $0) } ?? ""
    guard !status.isEmpty else { return .json(.badRequest, #"{"error":"status required in body"}"#) }
    io.to("order:\(orderID)").emit("order:updated", ["orderId": .string(orderID), "status": .string(status)])
    return .json(.accepted, #"{"delivered":true}"#)
}

let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
let channel = try await io.bind(host: "127.0.0.1", port: port, group: group)
logger.info("OrderStatus listening on http://127.0.0.1:\(port)")
try await channel.closeFuture.get()
