import NIOCore
import NIOEmbedded
import NIOHTTP1
import HeraldWebSocket

/// The upgrade fast path on an EmbeddedChannel, fed request bytes in chunks (byte 0 picks the split), then
/// closed. Every connection goes exactly one way. A fallback passes the HTTP pipeline every byte, unchanged and
/// once. An upgrade only happens for a request NIO's own HTTP parser reads as the same GET with the same
/// headers, and answers 101 with the accept value of its key.
func fuzzUpgradeFastPath(_ bytes: UnsafeRawBufferPointer) {
    guard let control = bytes.first else { return }
    let request = UnsafeRawBufferPointer(rebasing: bytes.dropFirst())
    let channel = EmbeddedChannel()
    let recorder = ByteRecorder()
    var upgraded: [HTTPRequestHead] = []
    var fallbacks = 0
    let handler = WebSocketUpgradeFastPath(
        configuration: WebSocketConfiguration(),
        shouldUpgrade: { _, _ in control & 0x80 == 0 ? .upgrade(nil) : .httpPipeline },
        upgraded: { _, head, _ in upgraded.append(head) },
        installHTTPPipeline: { pipeline in
            fallbacks += 1
            try pipeline.addHandler(recorder)
        })
    do {
        try channel.pipeline.syncOperations.addHandler(handler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        for chunk in fuzzChunks(request, seed: control) {
            try channel.writeInbound(ByteBuffer(bytes: chunk))
        }
        channel.embeddedEventLoop.run()
        var output = ByteBuffer()
        while var part = try channel.readOutbound(as: ByteBuffer.self) { output.writeBuffer(&part) }
        try? channel.close().wait()
        channel.embeddedEventLoop.run()

        fuzzCheck(upgraded.count + fallbacks <= 1, "\(upgraded.count) upgrades and \(fallbacks) fallbacks")
        if fallbacks == 1 {
            fuzzCheck(recorder.bytes.elementsEqual(request), "the HTTP pipeline got other bytes than were sent")
            fuzzCheck(output.readableBytes == 0, "the fast path answered a request it handed over")
        } else if let head = upgraded.first {
            checkUpgrade(head, request: request, output: output)
        } else {
            fuzzCheck(request.isEmpty, "\(request.count) bytes neither upgraded nor handed over after close")
        }
    } catch {
        fuzzCheck(false, "the embedded channel failed: \(error)")
    }
}

private func checkUpgrade(_ head: HTTPRequestHead, request: UnsafeRawBufferPointer, output: ByteBuffer) {
    // NIO's parser (what the fallback pipeline would have used) must read the same request.
    let nio = EmbeddedChannel(handler: ByteToMessageHandler(HTTPRequestDecoder()))
    defer { _ = try? nio.finish() }
    var parsed: HTTPRequestHead?
    do {
        try nio.writeInbound(ByteBuffer(bytes: request))
        if case .head(let nioHead)? = try nio.readInbound(as: HTTPServerRequestPart.self) { parsed = nioHead }
    } catch {
        fuzzCheck(false, "fast path upgraded a request NIO's parser refuses: \(error)")
    }
    guard let parsed else {
        fuzzCheck(false, "fast path upgraded a request NIO's parser did not complete")
        return
    }
    fuzzCheck(head.method == .GET && parsed.method == .GET, "upgrade of a \(parsed.method) request")
    fuzzCheck(head.version == .http1_1 && parsed.version == .http1_1, "upgrade of HTTP \(parsed.version)")
    fuzzCheck(head.uri == parsed.uri, "target \(head.uri) vs NIO's \(parsed.uri)")
    // RFC 9110 §5.5: whitespace around a field value is not part of it (NIO keeps a trailing tab, the fast path
    // does not); anything else must be identical.
    let ours = head.headers.map { "\($0.name): \(trimmed($0.value))" }
    let theirs = parsed.headers.map { "\($0.name): \(trimmed($0.value))" }
    fuzzCheck(ours == theirs, "headers \(ours) vs NIO's \(theirs)")
    let key = head.headers.first(name: "sec-websocket-key") ?? ""
    let response = String(buffer: output)
    fuzzCheck(response.hasPrefix("HTTP/1.1 101 Switching Protocols\r\n"), "upgrade answered \(response.prefix(40))")
    let accept = WebSocketServerUpgrade.acceptValue(forKey: key)
    fuzzCheck(response.contains("\r\nSec-WebSocket-Accept: \(accept)\r\n"), "wrong accept value for key \(key)")
}

private func trimmed(_ value: String) -> Substring {
    var text = Substring(value)
    while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
    while let last = text.last, last == " " || last == "\t" { text.removeLast() }
    return text
}

final class ByteRecorder: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    var bytes: [UInt8] = []
    func channelRead(context: ChannelHandlerContext, data: NIOAny) { bytes += unwrapInboundIn(data).readableBytesView }
}
