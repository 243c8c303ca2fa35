/// The query parameters the server itself reads (`transport`, `sid`, `EIO`), found in one scan of the URI without a
/// dictionary of all of them: every handshake and upgrade is checked against these. Like `HTTPQuery.parse`, names
/// and values are percent-decoded (`+` is a space) and a repeated name keeps its last value.
struct EngineIOQuery: Equatable {
    var transport: String?
    var sid: String?
    var eio: String?

    init(transport: String? = nil, sid: String? = nil, eio: String? = nil) {
        self.transport = transport
        self.sid = sid
        self.eio = eio
    }

    init(uri: String) {
        var utf8 = uri.utf8[...]
        guard let start = utf8.firstIndex(of: UInt8(ascii: "?")) else { return }
        utf8 = utf8[utf8.index(after: start)...]
        for pair in utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            let equals = pair.firstIndex(of: UInt8(ascii: "="))
            let rawName = Substring(pair[..<(equals ?? pair.endIndex)])
            let field: WritableKeyPath<EngineIOQuery, String?>
            switch HTTPQuery.decode(rawName) {
            case "transport": field = \.transport
            case "sid": field = \.sid
            case "EIO": field = \.eio
            default: continue
            }
            let rawValue = equals.map { Substring(pair[pair.index(after: $0)...]) } ?? ""
            self[keyPath: field] = HTTPQuery.decode(rawValue)
        }
    }
}
