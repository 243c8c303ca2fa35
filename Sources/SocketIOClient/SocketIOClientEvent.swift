import SocketIOProtocol

/// An event from the server: the same type the server side uses, with `ack` answering the server.
public typealias SocketIOClientEvent = SocketIOEvent
