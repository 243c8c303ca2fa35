/// Events a server may not emit, because clients reserve them.
let reservedEventNames: Set<String> = ["connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"]
