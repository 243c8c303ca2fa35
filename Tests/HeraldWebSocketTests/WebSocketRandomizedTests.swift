import HeraldTesting
import NIOCore
import Testing
@testable import HeraldWebSocket

/// Deterministic (seeded) randomized checks of the parser + state machine.
@Suite struct WebSocketRandomizedTests {
    private func run(_ machine: inout WebSocketConnectionStateMachine, _ bytes: ByteBuffer, splits: [Int]) -> [WebSocketConnectionStateMachine.ReadAction] {
        var actions: [WebSocketConnectionStateMachine.ReadAction] = []
        var pending = ByteBuffer()
        var input = bytes
        for size in splits + [input.readableBytes] {
            var piece = input.readSlice(length: min(size, input.readableBytes))!
            pending.writeBuffer(&piece)
            while let action = machine.bytesReceived(&pending) { actions.append(action) }
            pending.discardReadBytes()
        }
        return actions
    }

    @Test func validConversationsGiveTheSameActionsHoweverTheyAreSplit() {
        var rng = SeededGenerator(seed: 6455)
        let words = ["a", "é", "€uro", "😀", "plain ascii text ", "κόσμε"]
        for _ in 0..<200 {
            var wire = ByteBuffer()
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                let fragments = Int.random(in: 1...3, using: &rng)
                let isText = Bool.random(using: &rng)
                for index in 0..<fragments {
                    let payload: [UInt8] = isText
                        ? Array((0..<Int.random(in: 0...4, using: &rng)).map { _ in words.randomElement(using: &rng)! }.joined().utf8)
                        : (0..<Int.random(in: 0...300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    let opcode: UInt8 = index == 0 ? (isText ? 1 : 2) : 0
                    let mask = (0..<4).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    wire.writeImmutableBuffer(clientFrame(opcode, payload, fin: index == fragments - 1, mask: mask))
                    if Bool.random(using: &rng) {
                        wire.writeImmutableBuffer(clientFrame(0x9, [UInt8.random(in: 0...255, using: &rng)]))
                    }
                }
            }
            wire.writeImmutableBuffer(clientFrame(0x8, closePayload(1000)))

            var bulk = WebSocketConnectionStateMachine(configuration: WebSocketConfiguration())
            let expected = run(&bulk, wire, splits: [])
            var split = WebSocketConnectionStateMachine(configuration: WebSocketConfiguration())
            let splits = (0..<Int.random(in: 1...20, using: &rng)).map { _ in Int.random(in: 0...40, using: &rng) }
            #expect(run(&split, wire, splits: splits) == expected)
            #expect(expected.last == .writeAndClose(ByteBuffer(bytes: [0x88, 0x02, 0x03, 0xE8])))
        }
    }

    @Test func garbageNeverTrapsAndEndsInAtMostOneClose() {
        var rng = SeededGenerator(seed: 2026)
        for _ in 0..<500 {
            let bytes = (0..<Int.random(in: 0...200, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            var machine = WebSocketConnectionStateMachine(configuration: WebSocketConfiguration(maxFrameSize: 64, maxMessageSize: 128))
            let actions = run(&machine, ByteBuffer(bytes: bytes), splits: [Int.random(in: 0...10, using: &rng)])
            let closes = actions.filter { if case .writeAndClose = $0 { return true } else { return false } }
            #expect(closes.count <= 1)
            if let index = actions.firstIndex(where: { if case .writeAndClose = $0 { return true } else { return false } }) {
                #expect(index == actions.count - 1, "nothing may follow the Close")
                #expect(!machine.isReading)
            }
        }
    }
}
