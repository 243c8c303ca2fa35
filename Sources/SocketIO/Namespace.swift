import EngineIO
import SocketIOProtocol
import Synchronization

/// A Socket.IO namespace: its middleware, connection handlers, sockets and rooms.
///
/// Lock-protected: its sockets of every loop and its handlers are read and changed from any thread.
public final class Namespace: Sendable {
    public let name: String
    public let adapter: any SocketIOAdapter
    public unowned let server: SocketIOServer
    private let state = Mutex(State())

    struct State {
        var middleware: [@Sendable (Socket) async throws -> Void] = []
        var connectionHandlers: [@Sendable (Socket) -> Void] = []
        var sockets: [String: Socket] = [:]
        var serverSideHandlers: [@Sendable (SocketIOEvent) -> Void] = []
        var recoveryGate: RecoveryGate?
        var membershipHandlers: [@Sendable (Socket, RoomMembershipChange) -> Void] = []
    }

    init(name: String, server: SocketIOServer, adapter: any SocketIOAdapter) {
        self.name = name
        self.server = server
        self.adapter = adapter
    }

    /// Middleware runs for every connection before it is accepted; throw `ConnectError` to refuse it.
    public func use(_ middleware: @escaping @Sendable (Socket) async throws -> Void) {
        state.withLock { $0.middleware.append(middleware) }
    }

    /// Called on the socket's event loop for each accepted connection, after the client has its CONNECT reply.
    public func onConnection(_ handler: @escaping @Sendable (Socket) -> Void) {
        state.withLock { $0.connectionHandlers.append(handler) }
    }

    /// Called on the socket's event loop whenever a connected socket enters or leaves rooms (its own id room
    /// included), in the order the adapter sees them: like the reference adapter's `join-room` / `leave-room`.
    /// A disconnecting socket leaves every room it was in.
    public func onRoomMembership(_ handler: @escaping @Sendable (Socket, RoomMembershipChange) -> Void) {
        state.withLock { $0.membershipHandlers.append(handler) }
    }

    func membershipChanged(_ socket: Socket, _ change: RoomMembershipChange) {
        let handlers = state.withLock { $0.membershipHandlers }
        for handler in handlers { handler(socket, change) }
    }

    var middleware: [@Sendable (Socket) async throws -> Void] { state.withLock { $0.middleware } }
    var recoveryGate: RecoveryGate? { state.withLock { $0.recoveryGate } }

    /// Installs the gate recoveries into this namespace pass (see `RecoveryGate`); a second replaces the first.
    public func gateRecovery(_ gate: @escaping RecoveryGate) {
        state.withLock { $0.recoveryGate = gate }
    }

    /// Connected sockets of this namespace on this node.
    public var sockets: [Socket] { state.withLock { Array($0.sockets.values) } }
    public var socketCount: Int { state.withLock { $0.sockets.count } }
    public func socket(id: String) -> Socket? { state.withLock { $0.sockets[id] } }

    func socketConnected(_ socket: Socket) {
        let handlers = state.withLock { state in
            state.sockets[socket.id] = socket
            return state.connectionHandlers
        }
        for handler in handlers { handler(socket) }
    }

    func socketDisconnected(_ socket: Socket) {
        _ = state.withLock { $0.sockets.removeValue(forKey: socket.id) }
    }

    // MARK: Broadcasting

    public func to(_ rooms: String...) -> BroadcastOperator { BroadcastOperator(namespace: self, options: BroadcastOptions(rooms: Set(rooms))) }
    public func `in`(_ rooms: String...) -> BroadcastOperator { BroadcastOperator(namespace: self, options: BroadcastOptions(rooms: Set(rooms))) }
    public func except(_ rooms: String...) -> BroadcastOperator { BroadcastOperator(namespace: self, options: BroadcastOptions(except: Set(rooms))) }
    public var local: BroadcastOperator { BroadcastOperator(namespace: self, options: BroadcastOptions(local: true)) }
    public var volatile: BroadcastOperator { BroadcastOperator(namespace: self, options: BroadcastOptions(volatile: true)) }
    public var all: BroadcastOperator { BroadcastOperator(namespace: self, options: BroadcastOptions()) }

    /// Emits to every socket of the namespace.
    public func emit(_ event: String, _ args: JSONValue...) { all.emit(event, args: args) }
    public func fetchSockets() async throws -> [RemoteSocket] { try await all.fetchSockets() }
    public func localSockets() async -> [Socket] { await all.localSockets() }

    // MARK: Between nodes

    /// Handles events other nodes send with `serverSideEmit`; `event.ack` answers an emit that expects acknowledgements.
    public func onServerSideEmit(_ handler: @escaping @Sendable (SocketIOEvent) -> Void) {
        state.withLock { $0.serverSideHandlers.append(handler) }
    }

    /// Sends an event to this namespace's `onServerSideEmit` handlers on every other node.
    public func serverSideEmit(_ event: String, _ args: JSONValue...) async throws {
        _ = try await adapter.serverSideEmit(event, args: args, expectingAcks: false)
    }

    /// Like `serverSideEmit`, and waits for each other node's acknowledgement.
    public func serverSideEmitWithAck(_ event: String, _ args: JSONValue...) async throws -> [[JSONValue]] {
        try await adapter.serverSideEmit(event, args: args, expectingAcks: true)
    }

    /// Delivers another node's server-side event to the handlers (called by cluster adapters).
    public func receiveServerSideEmit(_ event: SocketIOEvent) {
        for handler in state.withLock({ $0.serverSideHandlers }) { handler(event) }
    }
}

/// Rooms a socket entered or left (see `Namespace.onRoomMembership`).
public enum RoomMembershipChange: Sendable, Hashable {
    case joined([String])
    case left([String])
}
