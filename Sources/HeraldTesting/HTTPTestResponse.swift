import NIOCore

/// An HTTP/1.1 response as it came off the wire.
public struct HTTPTestResponse: Sendable, CustomStringConvertible {
    public var status: Int
    /// Headers in wire order, names as sent.
    public var headers: [(name: String, value: String)]
    public var body: ByteBuffer

    /// The first value of a header, matched case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The body decoded as UTF-8.
    public var bodyString: String { String(buffer: body) }

    public var description: String { "HTTP \(status) \(headers.map { "\($0.name): \($0.value)" }) \(bodyString.debugDescription)" }

    /// Parses one response from the front of `buffer`; nil (leaving the buffer alone) until it is complete.
    /// Only `Content-Length` bodies are supported: that is all the server writes. Informational (1xx) responses
    /// have no body.
    static func parse(_ buffer: inout ByteBuffer) throws -> HTTPTestResponse? {
        let view = buffer.readableBytesView
        guard let headEnd = view.firstRange(of: [13, 10, 13, 10]) else { return nil }
        let headText = String(decoding: view[view.startIndex..<headEnd.lowerBound], as: UTF8.self)
        var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
            throw HTTPTestError.malformedResponse(headText)
        }
        var headers: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw HTTPTestError.malformedResponse(headText) }
            let value = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
            headers.append((String(line[..<colon]), String(value)))
        }
        var response = HTTPTestResponse(status: status, headers: headers, body: ByteBuffer())
        let headLength = headEnd.upperBound - view.startIndex
        let bodyLength = status < 200 ? 0 : response.header("content-length").flatMap { Int($0) } ?? 0
        guard buffer.readableBytes >= headLength + bodyLength else { return nil }
        buffer.moveReaderIndex(forwardBy: headLength)
        response.body = buffer.readSlice(length: bodyLength)!
        return response
    }
}

/// Failures of the test clients, as opposed to server answers.
public enum HTTPTestError: Error, CustomStringConvertible {
    case malformedResponse(String)
    case upgradeRefused(HTTPTestResponse?)
    case malformedFrame(String)

    public var description: String {
        switch self {
        case .malformedResponse(let head): "malformed response head: \(head.debugDescription)"
        case .upgradeRefused(let response): "websocket upgrade refused: \(response.map(String.init(describing:)) ?? "no response")"
        case .malformedFrame(let reason): "malformed websocket frame: \(reason)"
        }
    }
}
