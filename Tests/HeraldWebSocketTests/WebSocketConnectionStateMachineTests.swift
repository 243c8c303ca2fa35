import NIOCore
import NIOWebSocket
import Testing
@testable import HeraldWebSocket

/// The protocol logic without a channel: bytes and events in, actions out.
@Suite struct WebSocketConnectionStateMachineTests {
    typealias Machine = WebSocketConnectionStateMachine

    private func actions(_ machine: inout Machine, _ frames: ByteBuffer...) -> [Machine.ReadAction] {
        var result: [Machine.ReadAction] = []
        for frame in frames {
            var buffer = frame
            while let action = machine.bytesReceived(&buffer) { result.append(action) }
        }
        return result
    }

    @Test func messagesPingsAndPeerClose() {
        var machine = Machine(configuration: WebSocketConfiguration())
        let result = actions(
            &machine,
            clientFrame(0x1, Array("a".utf8), fin: false),
            clientFrame(0x9, [7]),
            clientFrame(0x0, Array("b".utf8)),
            clientFrame(0x8, closePayload(1000, Array("done".utf8))),
            clientFrame(0x1, Array("ignored".utf8)))
        #expect(result == [
            .write(ByteBuffer(bytes: [0x8A, 0x01, 7])),
            .deliver(.text(ByteBuffer(string: "ab"))),
            .writeAndClose(ByteBuffer(bytes: [0x88, 0x02, 0x03, 0xE8])),
        ])
        #expect(!machine.isReading)
        let closed = machine.channelClosed()
        #expect(closed?.code == .normalClosure)
        #expect(closed?.reason == "done")
        let again = machine.channelClosed()
        #expect(again == nil)   // reported once
    }

    @Test func closeRequestedThenPeerAnswers() {
        var machine = Machine(configuration: WebSocketConfiguration())
        let first = machine.closeRequested(code: .normalClosure, reason: "")
        #expect(first == ByteBuffer(bytes: [0x88, 0x02, 0x03, 0xE8]))
        let second = machine.closeRequested(code: .goingAway, reason: "")
        #expect(second == nil)
        #expect(!machine.canSend)
        let ignored = actions(&machine, clientFrame(0x9, [1]), clientFrame(0x2, [1, 2]))
        #expect(ignored == [])   // no pong, no delivery after our Close
        let answered = actions(&machine, clientFrame(0x8, closePayload(1000)))
        #expect(answered == [.closeTCP])
        let fired = machine.closeTimerFired()
        #expect(!fired)
    }

    @Test func closeTimerClosesTCPWhenPeerIsSilent() {
        var machine = Machine(configuration: WebSocketConfiguration())
        _ = machine.closeRequested(code: .normalClosure, reason: "")
        let fired = machine.closeTimerFired()
        #expect(fired)
        let closed = machine.channelClosed()
        #expect(closed?.code == .abnormalClosure)
    }

    @Test func protocolErrorAfterOurCloseJustClosesTCP() {
        var machine = Machine(configuration: WebSocketConfiguration())
        _ = machine.closeRequested(code: .normalClosure, reason: "")
        let result = actions(&machine, clientFrame(0x9, [], fin: false))
        #expect(result == [.closeTCP])
    }

    @Test func failureStopsReading() {
        var machine = Machine(configuration: WebSocketConfiguration())
        var both = clientFrame(0x1, [0xFF])
        both.writeImmutableBuffer(clientFrame(0x1, Array("after".utf8)))
        let result = actions(&machine, both)
        #expect(result == [.writeAndClose(ByteBuffer(bytes: [0x88, 0x02, 0x03, 0xEF]))])
        #expect(!machine.isReading)
    }
}
