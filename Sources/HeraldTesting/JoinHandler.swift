import SocketIO
import SocketIOProtocol

// Stateless: each call works on the socket it is given.

extension Socket {
    /// A `join` handler for the room-limit tests: joins the rooms `rooms` reads from the event (reachable across
    /// the cluster before the ack) and acks "ok", the refusal's code (`RoomLimitError`, `RoomNameError`) or "other".
    public func onJoinAckingRefusals(_ rooms: @escaping @Sendable (SocketIOEvent) throws -> [RoomName]) {
        on("join") { [self] event in
            Task {
                do {
                    try await joinReachable(rooms(event))
                    event.ack("ok")
                } catch let error as RoomLimitError {
                    event.ack(.string(error.code))
                } catch let error as RoomNameError {
                    event.ack(.string(error.code))
                } catch {
                    event.ack("other")
                }
            }
        }
    }
}
