// The Hummingbird peer for `bench/compare.sh`: Engine.IO v4 websocket-only transport and the Socket.IO v5
// packets `herald bench` uses, on Hummingbird 2's websocket upgrade, with the bench-server handlers:
//   CONNECT auth {"room": R}     -> join room R
//   EVENT broadcast P (ack id)   -> emit ["broadcast", P] to every connected socket, then ack [P]
//   EVENT echo ...args (ack id)  -> ack args
//   EVENT fanout P               -> emit ["tick", P] to room "fanout"
// Each connection gets an AsyncStream of outbound frames drained by its own task (the usual Hummingbird
// connection-manager shape); a broadcast is encoded once into a ByteBuffer that every stream shares.
//
// Usage: HummingbirdPeer [--host 127.0.0.1] [--port 3300] [--ping-interval 25000]

import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import Synchronization

struct Settings {
    var host = "127.0.0.1"
    var port = 3300
    var pingIntervalMS = 25_000
    var pingTimeoutMS = 20_000
    let maxPayload = 1_000_000

    init(arguments: [String]) {
        var i = 1
        while i + 1 < arguments.count {
            let value = arguments[i + 1]
            switch arguments[i] {
            case "--host": host = value
            case "--port": port = Int(value) ?? port
            case "--ping-interval": pingIntervalMS = Int(value) ?? pingIntervalMS
            case "--ping-timeout": pingTimeoutMS = Int(value) ?? pingTimeoutMS
            default: break
            }
            i += 2
        }
    }
}

/// One websocket connection as the hub sees it.
final class Peer: Sendable {
    let id: Int
    let sid: String
    let outbound: AsyncStream<ByteBuffer>.Continuation
    /// Whether a pong arrived since the last ping (Engine.IO heartbeat).
    let answered = Atomic<Bool>(true)

    init(id: Int, outbound: AsyncStream<ByteBuffer>.Continuation) {
        self.id = id
        self.sid = String(UInt64.random(in: 1...UInt64.max), radix: 36) + String(id, radix: 36)
        self.outbound = outbound
    }

    func send(_ text: String) { outbound.yield(ByteBuffer(string: text)) }
}

/// Connected sockets and rooms of namespace "/".
final class Hub: Sendable {
    private struct State {
        var connected: [Int: Peer] = [:]
        var rooms: [String: [Int: Peer]] = [:]
        var roomsOf: [Int: [String]] = [:]
    }
    private let state = Mutex(State())
    private let nextID = Atomic<Int>(0)

    func makeID() -> Int { nextID.add(1, ordering: .relaxed).newValue }

    func connect(_ peer: Peer, room: String?) {
        state.withLock { state in
            state.connected[peer.id] = peer
            if let room {
                state.rooms[room, default: [:]][peer.id] = peer
                state.roomsOf[peer.id] = [room]
            }
        }
    }

    func remove(_ peer: Peer) {
        state.withLock { state in
            state.connected[peer.id] = nil
            for room in state.roomsOf.removeValue(forKey: peer.id) ?? [] {
                state.rooms[room]?[peer.id] = nil
                if state.rooms[room]?.isEmpty == true { state.rooms[room] = nil }
            }
        }
    }

    /// Sends one encoded packet to everybody (room nil) or to a room's members; the buffer is shared.
    func emit(_ packet: String, room: String? = nil) {
        let buffer = ByteBuffer(string: packet)
        state.withLock { state in
            let targets = room.map { state.rooms[$0] ?? [:] } ?? state.connected
            for peer in targets.values { peer.outbound.yield(buffer) }
        }
    }

    /// Engine.IO heartbeat: a peer that has not answered the previous ping is closed, the others pinged.
    func heartbeat() {
        let ping = ByteBuffer(string: "2")
        state.withLock { state in
            for peer in state.connected.values {
                if peer.answered.exchange(false, ordering: .relaxed) {
                    peer.outbound.yield(ping)
                } else {
                    peer.outbound.finish()
                }
            }
        }
    }
}

enum Wire {
    static func json(_ value: Any) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }

    /// A Socket.IO packet body after its type digit: optional "/nsp," then optional ack id, then JSON.
    static func split(_ body: Substring.UTF8View) -> (namespace: String, ack: Int?, json: Substring.UTF8View) {
        var rest = body
        var namespace = "/"
        if rest.first == UInt8(ascii: "/") {
            let comma = rest.firstIndex(of: UInt8(ascii: ",")) ?? rest.endIndex
            namespace = String(Substring(rest[rest.startIndex..<comma]))
            rest = comma == rest.endIndex ? rest[comma...] : rest[rest.index(after: comma)...]
        }
        var ack: Int?
        while let byte = rest.first, byte >= 48, byte <= 57 {
            ack = (ack ?? 0) * 10 + Int(byte - 48)
            rest = rest.dropFirst()
        }
        return (namespace, ack, rest)
    }
}

/// Handles one Engine.IO text message from `peer`.
func handle(_ text: String, from peer: Peer, hub: Hub, settings: Settings) -> Bool {
    var utf8 = Substring(text).utf8
    guard let engineType = utf8.popFirst() else { return true }
    switch engineType {
    case UInt8(ascii: "3"):                                       // pong
        peer.answered.store(true, ordering: .relaxed)
        return true
    case UInt8(ascii: "1"):                                       // close
        return false
    case UInt8(ascii: "4"):                                       // message
        break
    default:
        return true
    }
    guard let socketType = utf8.popFirst() else { return true }
    let (namespace, ack, json) = Wire.split(utf8)
    guard namespace == "/" else {
        if socketType == UInt8(ascii: "0") { peer.send("44\(namespace),{\"message\":\"Invalid namespace\"}") }
        return true
    }
    let value = json.isEmpty ? nil : try? JSONSerialization.jsonObject(with: Data(json), options: [.fragmentsAllowed])
    switch socketType {
    case UInt8(ascii: "0"):                                       // CONNECT, auth {"room": R}
        let room = (value as? [String: Any])?["room"] as? String
        peer.send("40{\"sid\":\"\(peer.sid)\"}")
        hub.connect(peer, room: room)
    case UInt8(ascii: "1"):                                       // DISCONNECT
        hub.remove(peer)
    case UInt8(ascii: "2"):                                       // EVENT
        guard let array = value as? [Any], let name = array.first as? String else { return true }
        let args = Array(array.dropFirst())
        switch name {
        case "broadcast":
            hub.emit("42" + Wire.json(["broadcast", args.first ?? NSNull()]))
            if let ack { peer.send("43\(ack)" + Wire.json(args)) }
        case "echo":
            if let ack { peer.send("43\(ack)" + Wire.json(args)) }
        case "fanout":
            hub.emit("42" + Wire.json(["tick", args.first ?? NSNull()]), room: "fanout")
        default:
            break
        }
    default:
        break
    }
    return true
}

let settings = Settings(arguments: CommandLine.arguments)
let hub = Hub()

let webSocketConfiguration = WebSocketServerConfiguration(
    maxFrameSize: settings.maxPayload,
    autoPing: .disabled                      // Engine.IO has its own heartbeat
)

let app = Application(
    router: Router(),
    server: .http1WebSocketUpgrade(configuration: .init(ws: webSocketConfiguration)) { request, _, _ in
        let path = request.path ?? ""
        guard path.hasPrefix("/socket.io/"), path.contains("EIO=4"), path.contains("transport=websocket") else {
            return .dontUpgrade
        }
        return .upgrade([:]) { inbound, outbound, _ in
            let (stream, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
            let peer = Peer(id: hub.makeID(), outbound: continuation)
            peer.send(
                "0{\"sid\":\"\(peer.sid)\",\"upgrades\":[],\"pingInterval\":\(settings.pingIntervalMS),"
                    + "\"pingTimeout\":\(settings.pingTimeoutMS),\"maxPayload\":\(settings.maxPayload)}")
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await buffer in stream {
                        try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: buffer)))
                    }
                    // The stream ends when the peer missed a heartbeat (or left): close the websocket.
                    try? await outbound.close(.goingAway, reason: nil)
                }
                defer {
                    hub.remove(peer)
                    continuation.finish()
                }
                for try await message in inbound.messages(maxSize: settings.maxPayload) {
                    guard case .text(let text) = message else { continue }
                    if !handle(text, from: peer, hub: hub, settings: settings) { break }
                }
            }
        }
    },
    configuration: .init(address: .hostname(settings.host, port: settings.port), backlog: 4096),
    logger: {
        var logger = Logger(label: "hummingbird-peer")
        logger.logLevel = .warning
        return logger
    }()
)

let heartbeat = Task {
    while !Task.isCancelled {
        try? await Task.sleep(for: .milliseconds(settings.pingIntervalMS))
        hub.heartbeat()
    }
}
print("hummingbird-peer listening on \(settings.host):\(settings.port)")
try await app.runService()
heartbeat.cancel()
