import HeraldTesting
import NIOCore
import Testing

@testable import SocketIOProtocol

struct ValueGenerator {
    var rng: SeededGenerator
    var allowBinary: Bool

    static let keyPool = ["a", "b", "id", "name", "é", "😀", "with space", "q\"uote", "", "__proto__", "toString", "1", "nested"]
    static let scalarPool: [Unicode.Scalar] = [
        "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{0}", "\u{1}", "\u{8}", "\u{c}", "\u{1f}", "\u{7f}",
        "é", "ß", "日", "\u{2028}", "\u{FEFF}", "😀", "👍", "\u{10FFFF}", "\u{FFFD}",
    ]

    mutating func string() -> String {
        let length = Int.random(in: 0...24, using: &rng)
        var scalars = String.UnicodeScalarView()
        for _ in 0..<length {
            // Mostly plain ASCII runs (exercises the bulk copy path), sometimes specials.
            if Bool.random(using: &rng) {
                scalars.append(Unicode.Scalar(UInt8.random(in: 0x20...0x7E, using: &rng)))
            } else {
                scalars.append(Self.scalarPool.randomElement(using: &rng)!)
            }
        }
        return String(scalars)
    }

    mutating func double() -> Double {
        switch Int.random(in: 0..<6, using: &rng) {
        case 0: return Double(bitPattern: rng.next())  // anything, including NaN/inf/subnormals
        case 1: return Double(Int.random(in: -1_000_000...1_000_000, using: &rng)) / 1000
        case 2: return Double.random(in: -1...1, using: &rng) * pow10(Int.random(in: -30...30, using: &rng))
        case 3: return [0.1, 0.2, 0.3, 1e21, 1e-7, 1e-6, 123e20, -0.0, .leastNonzeroMagnitude, 1.7976931348623157e308, 9007199254740992 + 2].randomElement(using: &rng)!
        case 4: return Double(Int64.random(in: .min ... .max, using: &rng))
        default: return Double.random(in: -1e6...1e6, using: &rng)
        }
    }

    private func pow10(_ exponent: Int) -> Double {
        var result = 1.0
        for _ in 0..<abs(exponent) { result *= 10 }
        return exponent < 0 ? 1 / result : result
    }

    mutating func value(depth: Int = 0) -> JSONValue {
        let leafOnly = depth >= 4
        switch Int.random(in: 0..<(leafOnly ? 7 : 9), using: &rng) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &rng))
        case 2: return .int(Int.random(in: .min ... .max, using: &rng) >> Int.random(in: 0...63, using: &rng))
        case 3: return .double(double())
        case 4, 5: return .string(string())
        case 6:
            guard allowBinary else { return .string(string()) }
            var buffer = ByteBuffer()
            for _ in 0..<Int.random(in: 0...8, using: &rng) { buffer.writeInteger(UInt8.random(in: 0...255, using: &rng)) }
            return .binary(buffer)
        case 7:
            return .array((0..<Int.random(in: 0...5, using: &rng)).map { _ in value(depth: depth + 1) })
        default:
            var object = JSONObject()
            for _ in 0..<Int.random(in: 0...5, using: &rng) {
                object[Self.keyPool.randomElement(using: &rng)!] = value(depth: depth + 1)
            }
            return .object(object)
        }
    }
}

/// What a JavaScript round trip yields: one number type (integral values read back as .int),
/// non-finite numbers become null. Binary stays (it travels as an attachment).
func normalized(_ value: JSONValue) -> JSONValue {
    switch value {
    case .double(let number):
        guard number.isFinite else { return .null }
        // JavaScript reads back the shortest digits: integral ones become our .int when they fit.
        // (`doublesRoundTripThroughTheirJavaScriptForm` checks those digits denote the same double.)
        let text = JSONValue.double(number).jsonString
        if !text.utf8.contains(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") }), let exact = Int(text) {
            return .int(exact)
        }
        return .double(number == 0 ? 0 : number)
    case .array(let elements): return .array(elements.map(normalized))
    case .object(let object):
        var result = JSONObject()
        for (key, element) in object { result[key] = normalized(element) }
        return .object(result)
    default: return value
    }
}

@Suite struct RoundTripPropertyTests {
    @Test(arguments: [1, 2, 3, 42, 2024] as [UInt64])
    func jsonRoundTrip(seed: UInt64) throws {
        var generator = ValueGenerator(rng: SeededGenerator(seed: seed), allowBinary: false)
        for _ in 0..<400 {
            let value = generator.value()
            let text = value.jsonString
            let parsed = try JSONValue(parsing: text)
            #expect(parsed == normalized(value), "\(text)")
            #expect(parsed.jsonString == text)
        }
    }

    @Test(arguments: [7, 8, 9, 1234] as [UInt64])
    func doublesRoundTripThroughTheirJavaScriptForm(seed: UInt64) throws {
        var generator = ValueGenerator(rng: SeededGenerator(seed: seed), allowBinary: false)
        for _ in 0..<2_000 {
            let number = generator.double()
            guard number.isFinite else { continue }
            let text = JSONValue.double(number).jsonString
            // The JavaScript form must denote the very same double.
            #expect(try JSONValue(parsing: text).doubleValue == (number == 0 ? 0 : number), "\(text)")
            #expect(Double(text) == number || number == 0, "\(text)")
        }
    }

    @Test(arguments: [11, 12, 13, 99] as [UInt64])
    func packetRoundTrip(seed: UInt64) throws {
        var generator = ValueGenerator(rng: SeededGenerator(seed: seed), allowBinary: true)
        var decoder = SocketIOPacketDecoder(maxAttachments: 1_000)
        let namespaces = ["/", "/admin", "/a/b", "/é😀", "/with space"]
        for _ in 0..<500 {
            let namespace = namespaces.randomElement(using: &generator.rng)!
            let id: Int? = Bool.random(using: &generator.rng) ? Int.random(in: 0...Int.max, using: &generator.rng) : nil
            let args = (0..<Int.random(in: 0...4, using: &generator.rng)).map { _ in generator.value() }
            let packet: SocketIOPacket
            switch Int.random(in: 0..<5, using: &generator.rng) {
            case 0:
                var name = generator.string()
                if SocketIOPacket.reservedEventNames.contains(name) { name += "!" }
                packet = .event(name, args, namespace: namespace, id: id)
            case 1: packet = .ack(id: id ?? 0, args: args, namespace: namespace)
            case 2:
                var auth = JSONObject()
                auth["token"] = .string(generator.string())
                packet = .connect(namespace: namespace, data: Bool.random(using: &generator.rng) ? .object(auth) : nil)
            case 3: packet = .connectError(namespace: namespace, message: generator.string())
            default: packet = .disconnect(namespace: namespace)
            }

            try packet.validate()
            let (text, attachments) = SocketIOPacketEncoder.encode(packet)
            var decoded = try decoder.decode(text: ByteBuffer(string: text))
            #expect((decoded == nil) == !attachments.isEmpty)
            for (position, attachment) in attachments.enumerated() {
                #expect(decoded == nil)
                decoded = try decoder.decode(binary: attachment)
                #expect((decoded == nil) == (position < attachments.count - 1))
            }
            var expected = packet
            expected.data = packet.data.map(normalized)
            #expect(decoded == expected, "\(text)")
            #expect(!decoder.isAwaitingAttachments)
        }
    }
}
