// `JSONValue` and `SocketIOEvent` are in this module's public API: `import SocketIOClient` brings them.
@_exported import SocketIOProtocol
