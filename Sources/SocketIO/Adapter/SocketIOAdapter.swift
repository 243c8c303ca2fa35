import EngineIO
import NIOCore
import SocketIOProtocol

/// Who receives a broadcast.
public struct BroadcastOptions: Sendable, Hashable {
    /// Rooms to reach; empty means every socket of the namespace.
    public var rooms: Set<String>
    /// Sockets in any of these rooms are skipped (a socket id is a room too).
    public var except: Set<String>
    /// This node only (no fan-out to other nodes).
    public var local: Bool
    /// Skip clients that are not ready to receive instead of buffering for them.
    public var volatile: Bool

    public init(rooms: Set<String> = [], except: Set<String> = [], local: Bool = false, volatile: Bool = false) {
        self.rooms = rooms
        self.except = except
        self.local = local
        self.volatile = volatile
    }
}

/// Keeps a namespace's rooms and delivers broadcasts. The in-memory adapter serves one node; a cluster adapter
/// also forwards broadcasts to other nodes and delivers theirs through `InMemoryAdapter.deliverLocally`.
public protocol SocketIOAdapter: Sendable {
    /// Called on the socket's event loop.
    func join(_ socket: Socket, rooms: [String])
    /// Called on the socket's event loop.
    func leave(_ socket: Socket, room: String)
    /// Called on the socket's event loop when the socket disconnects.
    func leaveAll(_ socket: Socket)
    /// Encodes the packet once and delivers it; callable from any thread.
    func broadcast(_ packet: SocketIOPacket, options: BroadcastOptions)
    /// Sockets of this node matching the options (rooms and except).
    func localSockets(_ options: BroadcastOptions) async -> [Socket]
}

extension SocketIOPacket {
    /// Encodes the packet once as a shared, pre-framed Engine.IO message.
    func prepared() -> EngineIOPreparedMessage {
        EngineIOPreparedMessage(capacity: 64) { buffer in
            SocketIOPacketEncoder.encode(self, into: &buffer)
        }
    }
}
