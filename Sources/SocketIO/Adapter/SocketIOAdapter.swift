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
///
/// A socket's own room is its id, `socket.id`: `join` and `leaveAll` pass the socket, so an adapter knows which
/// of the rooms is the socket's own (joined once, when it connects) without judging room names; `holdRooms`
/// is given only other rooms (an own room is reachable from the moment the socket exists). A user room may be
/// named like an id and is a room like any other.
public protocol SocketIOAdapter: Sendable {
    /// Called on the socket's event loop; `rooms` includes the socket's own room (`socket.id`) when it connects.
    func join(_ socket: Socket, rooms: [String])
    /// Called on the socket's event loop.
    func leave(_ socket: Socket, room: String)
    /// Called on the socket's event loop when the socket disconnects.
    func leaveAll(_ socket: Socket)
    /// Encodes the packet once and delivers it; callable from any thread.
    func broadcast(_ packet: SocketIOPacket, options: BroadcastOptions)
    /// Like `broadcast`, and returns once other nodes can receive it; throws when they cannot (a cluster bus is down).
    func broadcastConfirmed(_ packet: SocketIOPacket, options: BroadcastOptions) async throws
    /// Called once when the namespace owning this adapter is created.
    func attach(to namespace: Namespace)
    /// Makes rooms reachable from the whole cluster before a socket that will join them is accepted; every
    /// hold is ended by `releaseRooms` once the socket joined (or was refused).
    func holdRooms(_ rooms: [String]) async
    func releaseRooms(_ rooms: [String])
    /// Sockets of this node matching the options (rooms and except).
    func localSockets(_ options: BroadcastOptions) async -> [Socket]

    // Operations on the matching sockets of every node. The defaults act on this node only, which is all
    // there is for a single node; a cluster adapter also asks the other nodes, and throws `ClusterError`
    // when some of them did not answer in time.

    func fetchSockets(_ options: BroadcastOptions) async throws -> [RemoteSocket]
    func addSockets(_ options: BroadcastOptions, rooms: [String]) async throws
    func removeSockets(_ options: BroadcastOptions, rooms: [String]) async throws
    func disconnectSockets(_ options: BroadcastOptions, close: Bool) async throws
    /// Sends an event to the namespace's `onServerSideEmit` handlers on the other nodes; returns their acknowledgements.
    func serverSideEmit(_ event: String, args: [JSONValue], expectingAcks: Bool) async throws -> [[JSONValue]]
    /// Number of nodes serving the namespace, this one included.
    func serverCount() async throws -> Int

    // Connection state recovery (used only when it is configured).

    /// The newest offset of the namespace's event log.
    func recoveryOffset() async -> String
    /// Keeps a disconnected socket's session for its client to come back to. Synchronous so that the session
    /// is in place (or its write is queued) before the client can possibly come back.
    func persistSession(_ session: RecoverableSession)
    /// Returns once every session persisted so far is stored (or its write failed): a draining server waits
    /// for this before it lets its cluster connections go.
    func sessionsPersisted() async
    /// Takes a session back, with the events its client missed after `offset`. A cluster adapter may hold the
    /// session's rooms (not its own room, which needs no hold) for it, as `holdRooms` does, so that nothing sent
    /// between its log read and the socket's join is lost; the caller ends that hold with `releaseRooms` once the
    /// socket joined or was refused.
    func restoreSession(pid: String, offset: String?) async -> RecoveryOutcome
    /// The events for `rooms` logged after `offset`, in order (each carrying its offset); nil when the log cannot
    /// tell. A recovered socket's catch-up: what was logged between its restore and its join.
    func missedEvents(rooms: Set<String>, after offset: String) async -> [EngineIOPreparedMessage]?
    /// From now on this node's deliveries to `socket` are kept back, not written (on the socket's loop).
    func holdDeliveries(to socket: Socket)
    /// Ends `holdDeliveries`: what was kept back, in order (on the socket's loop).
    func releaseDeliveries(to socket: Socket) -> [EngineIOPreparedMessage]
}

extension SocketIOAdapter {
    public func broadcastConfirmed(_ packet: SocketIOPacket, options: BroadcastOptions) async throws {
        broadcast(packet, options: options)
    }

    public func attach(to namespace: Namespace) {}
    public func holdRooms(_ rooms: [String]) async {}
    public func releaseRooms(_ rooms: [String]) {}

    public func fetchSockets(_ options: BroadcastOptions) async throws -> [RemoteSocket] {
        await localSockets(options).map(RemoteSocket.init)
    }

    public func addSockets(_ options: BroadcastOptions, rooms: [String]) async throws {
        await Socket.changeRooms(of: await localSockets(options), join: rooms)
    }

    public func removeSockets(_ options: BroadcastOptions, rooms: [String]) async throws {
        await Socket.changeRooms(of: await localSockets(options), leave: rooms)
    }

    public func disconnectSockets(_ options: BroadcastOptions, close: Bool) async throws {
        for socket in await localSockets(options) { await socket.disconnectCompletely(close: close) }
    }

    public func serverSideEmit(_ event: String, args: [JSONValue], expectingAcks: Bool) async throws -> [[JSONValue]] { [] }

    public func serverCount() async throws -> Int { 1 }

    public func recoveryOffset() async -> String { "" }
    public func persistSession(_ session: RecoverableSession) {}
    public func sessionsPersisted() async {}
    public func restoreSession(pid: String, offset: String?) async -> RecoveryOutcome { .unavailable }
    public func missedEvents(rooms: Set<String>, after offset: String) async -> [EngineIOPreparedMessage]? { nil }
    public func holdDeliveries(to socket: Socket) {}
    public func releaseDeliveries(to socket: Socket) -> [EngineIOPreparedMessage] { [] }
}

/// Some nodes of a cluster did not answer a request in time.
public struct ClusterError: Error, Sendable, CustomStringConvertible {
    /// Nodes that answered, and nodes that were expected to.
    public var answered: Int
    public var expected: Int
    public var operation: String

    public init(operation: String, answered: Int, expected: Int) {
        self.operation = operation
        self.answered = answered
        self.expected = expected
    }

    public var description: String { "\(operation): \(answered) of \(expected) nodes answered in time" }
}

extension SocketIOPacket {
    /// Encodes the packet once as a shared, pre-framed Engine.IO message.
    public func prepared() -> EngineIOPreparedMessage {
        EngineIOPreparedMessage(capacity: 64) { buffer in
            SocketIOPacketEncoder.encode(self, into: &buffer)
        }
    }
}
