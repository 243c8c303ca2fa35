import NIOCore
import HeraldWebSocket

/// Websocket frame parser and connection state machine, fed client bytes. Byte 0 picks how the bytes are split
/// (bits 0–6) and whether the server closes first (bit 7). The actions must not depend on how the bytes are
/// split; delivered messages respect the limits and text is valid UTF-8; pongs are control-sized; nothing is
/// delivered or answered once the machine closed; `channelClosed` reports exactly once.
func fuzzWebSocket(_ bytes: UnsafeRawBufferPointer) {
    guard let control = bytes.first else { return }
    let stream = UnsafeRawBufferPointer(rebasing: bytes.dropFirst())
    let serverClosesFirst = control & 0x80 != 0
    // Small limits so the fuzzer reaches them.
    let configuration = WebSocketConfiguration(maxFrameSize: 300, maxMessageSize: 500)

    let whole = run(configuration, serverClosesFirst, chunks: [stream])
    let split = run(configuration, serverClosesFirst, chunks: fuzzChunks(stream, seed: control & 0x7F))
    fuzzCheck(whole == split, "actions depend on the split: \(whole) vs \(split)")
}

private func run(
    _ configuration: WebSocketConfiguration, _ serverClosesFirst: Bool, chunks: [UnsafeRawBufferPointer]
) -> [WebSocketConnectionStateMachine.ReadAction] {
    var machine = WebSocketConnectionStateMachine(configuration: configuration)
    if serverClosesFirst {
        fuzzCheck(machine.closeRequested(code: .goingAway, reason: "bye") != nil, "no Close frame on the first close")
        fuzzCheck(machine.closeRequested(code: .goingAway, reason: "bye") == nil, "a second Close frame")
    }
    var actions: [WebSocketConnectionStateMachine.ReadAction] = []
    var pending = ByteBuffer()
    for chunk in chunks {
        pending.writeBytes(chunk)
        while let action = machine.bytesReceived(&pending) {
            check(action, after: actions, configuration: configuration)
            actions.append(action)
        }
        pending.discardReadBytes()
    }
    fuzzCheck(machine.channelClosed() != nil, "channelClosed reported nothing")
    fuzzCheck(machine.channelClosed() == nil, "channelClosed reported twice")
    return actions
}

private func check(
    _ action: WebSocketConnectionStateMachine.ReadAction,
    after previous: [WebSocketConnectionStateMachine.ReadAction],
    configuration: WebSocketConfiguration
) {
    let closed = previous.contains {
        switch $0 {
        case .writeAndClose, .closeTCP: true
        default: false
        }
    }
    fuzzCheck(!closed, "\(action) after the connection closed")
    switch action {
    case .deliver(.text(let payload)):
        fuzzCheck(payload.readableBytes <= configuration.maxMessageSize, "text message of \(payload.readableBytes) bytes")
        fuzzCheck(String(validating: payload.readableBytesView, as: UTF8.self) != nil, "invalid UTF-8 delivered as text")
    case .deliver(.binary(let payload)):
        fuzzCheck(payload.readableBytes <= configuration.maxMessageSize, "binary message of \(payload.readableBytes) bytes")
    case .write(let frame):
        // A pong: 2-byte header (unmasked, ≤ 125 bytes) plus the ping's payload.
        fuzzCheck(frame.readableBytes <= 127, "pong of \(frame.readableBytes) bytes")
        fuzzCheck(frame.getInteger(at: frame.readerIndex, as: UInt8.self) == 0x8A, "write that is not a final pong")
    case .writeAndClose(let frame):
        fuzzCheck(frame.getInteger(at: frame.readerIndex, as: UInt8.self) == 0x88, "close action without a Close frame")
        fuzzCheck(frame.readableBytes <= 4, "server Close frame of \(frame.readableBytes) bytes")
    case .closeTCP:
        break
    }
}
