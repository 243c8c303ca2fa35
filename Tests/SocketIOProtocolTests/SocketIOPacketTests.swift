import NIOCore
import Testing

@testable import SocketIOProtocol

private func bytes(_ values: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: values) }

private func placeholder(_ num: Int) -> JSONValue { ["_placeholder": true, "num": .int(num)] }

extension SocketIOPacketDecoder {
    fileprivate func decodeCopy(_ buffer: ByteBuffer) throws(SocketIOProtocolError) -> SocketIOPacket? {
        var copy = self
        return try copy.decode(text: buffer)
    }
}

private func decodeOne(_ text: String, maxAttachments: Int = 10) throws(SocketIOProtocolError) -> SocketIOPacket? {
    var decoder = SocketIOPacketDecoder(maxAttachments: maxAttachments)
    return try decoder.decode(text: ByteBuffer(string: text))
}

@Suite struct SocketIOPacketGoldenTests {
    /// Vectors from the v5 protocol document and the reference parser's tests.
    static let textVectors: [(String, SocketIOPacket)] = [
        ("0", .init(type: .connect)),
        ("0/admin,", .init(type: .connect, namespace: "/admin")),
        (#"0{"token":"123"}"#, .connect(data: ["token": "123"])),
        (#"0/admin,{"token":"123"}"#, .connect(namespace: "/admin", data: ["token": "123"])),
        (#"0/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}"#, .connect(namespace: "/admin", data: ["sid": "oSO0OpakMV_3jnilAAAA"])),
        (#"0/woot,{"token":"123"}"#, .connect(namespace: "/woot", data: ["token": "123"])),
        ("1", .disconnect()),
        ("1/admin,", .disconnect(namespace: "/admin")),
        ("1/woot,", .disconnect(namespace: "/woot")),
        (#"2["foo"]"#, .event("foo")),
        (#"2/admin,["bar"]"#, .event("bar", namespace: "/admin")),
        (#"2["a",1,{}]"#, .event("a", [1, .object([:])])),
        (#"2[1,"a",{}]"#, .init(type: .event, data: [1, "a", .object([:])])),
        (#"2/test,1["a",1,{}]"#, .event("a", [1, .object([:])], namespace: "/test", id: 1)),
        (#"212["foo"]"#, .event("foo", id: 12)),
        (#"2456["message-with-ack",1,"2",{"3":[false]}]"#, .event("message-with-ack", [1, "2", ["3": [false]]], id: 456)),
        (#"3/admin,13["bar"]"#, .init(type: .ack, namespace: "/admin", data: ["bar"], id: 13)),
        (#"3123["a",1,{}]"#, .ack(id: 123, args: ["a", 1, .object([:])])),
        ("3456[]", .ack(id: 456)),
        (#"4{"message":"Not authorized"}"#, .connectError(message: "Not authorized")),
        (#"4"Unauthorized""#, .init(type: .connectError, data: "Unauthorized")),
        (#"4/admin,{"message":"Invalid namespace","data":{"code":1}}"#,
         .connectError(namespace: "/admin", message: "Invalid namespace", data: ["code": 1])),
    ]

    @Test(arguments: textVectors)
    func decodesAndEncodesTextVector(text: String, packet: SocketIOPacket) throws {
        #expect(try decodeOne(text) == packet)
        let encoded = SocketIOPacketEncoder.encode(packet)
        #expect(encoded.text == text)
        #expect(encoded.attachments.isEmpty)
    }

    @Test func mainNamespaceIsImplied() {
        #expect(SocketIOPacketEncoder.encode(.init(type: .connect, namespace: "")).text == "0")
        #expect(SocketIOPacketEncoder.encode(.init(type: .connect, namespace: "/")).text == "0")
        #expect(SocketIOPacketEncoder.encode(.disconnect(namespace: "/chat")).text == "1/chat,")
    }

    @Test func namespaceWithoutCommaRunsToTheEnd() throws {
        #expect(try decodeOne("0/admin") == .init(type: .connect, namespace: "/admin"))
        #expect(try decodeOne("40/random".dropFirst().description) == .init(type: .connect, namespace: "/random"))
        #expect(try decodeOne("2/admin,") == .init(type: .event, namespace: "/admin"))
        #expect(try decodeOne("2/admin,7") == .init(type: .event, namespace: "/admin", id: 7))
    }

    @Test func binaryEventFromSpec() throws {
        var decoder = SocketIOPacketDecoder()
        #expect(try decoder.decode(text: ByteBuffer(string: #"51-["baz",{"_placeholder":true,"num":0}]"#)) == nil)
        #expect(decoder.isAwaitingAttachments)
        let packet = try decoder.decode(binary: bytes([1, 2, 3, 4]))
        #expect(packet == .event("baz", [.binary(bytes([1, 2, 3, 4]))]))
        #expect(!decoder.isAwaitingAttachments)
        #expect(SocketIOPacketEncoder.encode(packet!).text == #"51-["baz",{"_placeholder":true,"num":0}]"#)
    }

    @Test func binaryEventWithNamespaceAndTwoAttachments() throws {
        var decoder = SocketIOPacketDecoder()
        let text = #"52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#
        #expect(try decoder.decode(text: ByteBuffer(string: text)) == nil)
        #expect(try decoder.decode(binary: bytes([1, 2])) == nil)
        #expect(decoder.isAwaitingAttachments)
        let packet = try decoder.decode(binary: bytes([3, 4]))
        #expect(packet == .event("baz", [.binary(bytes([1, 2])), .binary(bytes([3, 4]))], namespace: "/admin"))
        let encoded = SocketIOPacketEncoder.encode(packet!)
        #expect(encoded.text == text)
        #expect(encoded.attachments == [bytes([1, 2]), bytes([3, 4])])
    }

    @Test func binaryAckFromSpec() throws {
        var decoder = SocketIOPacketDecoder()
        let text = #"61-/admin,456[{"_placeholder":true,"num":0}]"#
        #expect(try decoder.decode(text: ByteBuffer(string: text)) == nil)
        let packet = try decoder.decode(binary: bytes([9]))
        #expect(packet == .init(type: .ack, namespace: "/admin", data: [.binary(bytes([9]))], id: 456))
        #expect(SocketIOPacketEncoder.encode(packet!) == (text, [bytes([9])]))
    }

    @Test func binaryWithAckAndPlaceholdersOutOfOrder() throws {
        var decoder = SocketIOPacketDecoder()
        let text = #"52-789["message-with-ack",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]"#
        #expect(try decoder.decode(text: ByteBuffer(string: text)) == nil)
        #expect(try decoder.decode(binary: bytes([1, 2, 3])) == nil)
        let packet = try decoder.decode(binary: bytes([4, 5, 6]))
        #expect(packet == .event("message-with-ack", [.binary(bytes([4, 5, 6])), .binary(bytes([1, 2, 3]))], id: 789))
    }

    @Test func binaryPacketWithZeroAttachmentsIsCompleteAtOnce() throws {
        var decoder = SocketIOPacketDecoder()
        #expect(try decoder.decode(text: ByteBuffer(string: #"50-["hello"]"#)) == .event("hello"))
        #expect(!decoder.isAwaitingAttachments)
        #expect(try decoder.decode(text: ByteBuffer(string: #"2["next"]"#)) == .event("next"))
    }

    @Test func attachmentsOfOnePacketAreBoundedTogether() throws {
        var decoder = SocketIOPacketDecoder(maxAttachmentBytes: 5)
        let text = #"53-["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]"#
        #expect(try decoder.decode(text: ByteBuffer(string: text)) == nil)
        #expect(try decoder.decode(binary: bytes([1, 2])) == nil)
        #expect(try decoder.decode(binary: bytes([3, 4])) == nil)
        #expect(throws: SocketIOProtocolError.attachmentsTooLarge) { try decoder.decode(binary: bytes([5, 6])) }
        #expect(!decoder.isAwaitingAttachments, "the partial packet is dropped")
        // Exactly at the bound is fine, and the count starts again with each packet.
        #expect(try decoder.decode(text: ByteBuffer(string: #"52-["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]"#)) == nil)
        #expect(try decoder.decode(binary: bytes([1, 2])) == nil)
        #expect(try decoder.decode(binary: bytes([3, 4, 5])) == .event("up", [.binary(bytes([1, 2])), .binary(bytes([3, 4, 5]))]))
    }

    @Test func nestedBinaryInObjectsAndArrays() throws {
        let packet = SocketIOPacket.event("upload", [
            ["file": .binary(bytes([1])), "meta": ["thumbs": [.binary(bytes([2])), "x", .binary(bytes([3]))]]],
            .binary(bytes([4])),
        ], namespace: "/files", id: 23)
        var buffer = ByteBuffer(string: "4")
        let attachments = SocketIOPacketEncoder.encode(packet, into: &buffer)
        #expect(String(buffer: buffer) == #"454-/files,23["upload",{"file":{"_placeholder":true,"num":0},"meta":{"thumbs":[{"_placeholder":true,"num":1},"x",{"_placeholder":true,"num":2}]}},{"_placeholder":true,"num":3}]"#)
        #expect(attachments == [bytes([1]), bytes([2]), bytes([3]), bytes([4])])

        buffer.moveReaderIndex(forwardBy: 1)  // the Engine.IO "4"
        var decoder = SocketIOPacketDecoder()
        #expect(try decoder.decode(text: buffer) == nil)
        var result: SocketIOPacket?
        for attachment in attachments { result = try decoder.decode(binary: attachment) }
        #expect(result == packet)
    }

    @Test func ackWithBinaryBecomesBinaryAck() {
        let encoded = SocketIOPacketEncoder.encode(.ack(id: 127, args: ["a", .binary(ByteBuffer(string: "xxx")), .object([:])], namespace: "/back"))
        #expect(encoded.text == #"61-/back,127["a",{"_placeholder":true,"num":0},{}]"#)
        #expect(encoded.attachments == [ByteBuffer(string: "xxx")])
    }

    @Test func binaryTypeWithoutBinaryKeepsType() {
        let encoded = SocketIOPacketEncoder.encode(.init(type: .binaryEvent, data: ["a"]))
        #expect(encoded.text == #"50-["a"]"#)
        #expect(encoded.attachments.isEmpty)
    }

    @Test func binaryOutsideEventsIsNull() {
        let encoded = SocketIOPacketEncoder.encode(.connect(data: ["blob": .binary(bytes([1]))]))
        #expect(encoded.text == #"0{"blob":null}"#)
        #expect(encoded.attachments.isEmpty)
    }

    @Test func attachmentsMaySliceTheSameStorage() throws {
        var storage = ByteBuffer(string: "hello world")
        let hello = storage.readSlice(length: 5)!
        var decoder = SocketIOPacketDecoder()
        _ = try decoder.decode(text: ByteBuffer(string: #"51-["a",{"_placeholder":true,"num":0}]"#))
        #expect(try decoder.decode(binary: hello) == .event("a", [.binary(ByteBuffer(string: "hello"))]))
    }

    @Test func placeholderWithIntegralDoubleIndexIsAccepted() throws {
        var decoder = SocketIOPacketDecoder()
        _ = try decoder.decode(text: ByteBuffer(string: #"51-["a",{"_placeholder":true,"num":0.0}]"#))
        #expect(try decoder.decode(binary: bytes([7])) == .event("a", [.binary(bytes([7]))]))
    }

    @Test func placeholderLookalikesInPlainEventsStayObjects() throws {
        let text = #"2["a",{"_placeholder":true,"num":0}]"#
        #expect(try decodeOne(text) == .event("a", [placeholder(0)]))
    }

    @Test func conveniences() {
        let event = SocketIOPacket.event("chat", ["hi", 2], namespace: "/room", id: 5)
        #expect(event.eventName == "chat")
        #expect(event.arguments == ["hi", 2])
        #expect(SocketIOPacket.ack(id: 1, args: [true]).arguments == [true])
        #expect(SocketIOPacket.disconnect().eventName == nil)
        #expect(SocketIOPacketEncoder.encode(.connectError(message: "nope", data: ["retry": false])).text
            == #"4{"message":"nope","data":{"retry":false}}"#)
    }
}

@Suite struct SocketIOPacketInvalidInputTests {
    static let invalid: [(String, SocketIOProtocolError)] = [
        // From the reference parser's "throw an error upon parsing error".
        (#"442["some","data""#, .invalidJSON),
        (#"0/admin,"invalid""#, .invalidPayload),
        ("0[]", .invalidPayload),
        ("1/admin,{}", .invalidPayload),
        (#"2/admin,"invalid"#, .invalidJSON),
        ("2/admin,{}", .invalidPayload),
        (#"2[{"toString":"foo"}]"#, .invalidPayload),
        (#"2[true,"foo"]"#, .invalidPayload),
        (#"2[null,"bar"]"#, .invalidPayload),
        (#"2["connect"]"#, .invalidPayload),
        (#"2["disconnect","123"]"#, .invalidPayload),
        ("5", .illegalAttachmentsCount),
        ("51", .illegalAttachmentsCount),
        ("5a-", .illegalAttachmentsCount),
        ("51.23-", .illegalAttachmentsCount),
        ("999", .invalidType),
        // From the reference's "too many attachments" (default limit 10 here).
        (#"511-["a"]"#, .tooManyAttachments),
        ("599999999999999999999999999-[\"a\"]", .tooManyAttachments),
        // Further type / payload rules of isPayloadValid.
        ("", .invalidType),
        ("7", .invalidType),
        ("x", .invalidType),
        ("/", .invalidType),
        ("5-[\"a\"]", .illegalAttachmentsCount),
        ("6-1[]", .illegalAttachmentsCount),
        ("2[]", .invalidPayload),
        ("2{}", .invalidPayload),
        (#"2"x""#, .invalidPayload),
        (#"2["connect_error"]"#, .invalidPayload),
        (#"2["disconnecting"]"#, .invalidPayload),
        (#"2["newListener"]"#, .invalidPayload),
        (#"2["removeListener"]"#, .invalidPayload),
        (#"2[["a"]]"#, .invalidPayload),
        (#"51-["connect",{"_placeholder":true,"num":0}]"#, .invalidPayload),
        (#"3{}"#, .invalidPayload),
        (#"3"a""#, .invalidPayload),
        (#"61-{"_placeholder":true,"num":0}"#, .invalidPayload),
        ("4[]", .invalidPayload),
        ("4null", .invalidPayload),
        ("0\"x\"", .invalidPayload),
        ("0null", .invalidPayload),
        ("1[]", .invalidPayload),
        ("1\"bye\"", .invalidPayload),
        ("4abc", .invalidJSON),
        (#"2["a"] x"#, .invalidJSON),
        (#"2/admin,["a""#, .invalidJSON),
        ("29999999999999999999999[\"a\"]", .invalidAckId),
        // Placeholders that cannot name an attachment.
        (#"51-["hello",{"_placeholder":true,"num":"splice"}]"#, .badPlaceholder),
        (#"51-["hello",{"_placeholder":true,"num":1}]"#, .badPlaceholder),
        (#"51-["hello",{"_placeholder":true,"num":-1}]"#, .badPlaceholder),
        (#"51-["hello",{"_placeholder":true,"num":0.5}]"#, .badPlaceholder),
        (#"51-["hello",{"_placeholder":true}]"#, .badPlaceholder),
        (#"52-["hello",{"deep":[{"_placeholder":true,"num":2}]}]"#, .badPlaceholder),
        (#"50-["hello",{"_placeholder":true,"num":0}]"#, .badPlaceholder),
    ]

    @Test(arguments: invalid)
    func rejects(text: String, error: SocketIOProtocolError) throws {
        var decoder = SocketIOPacketDecoder()
        #expect(throws: error) { try decoder.decode(text: ByteBuffer(string: text)) }
        #expect(!decoder.isAwaitingAttachments)
        // The decoder stays usable afterwards.
        #expect(try decoder.decode(text: ByteBuffer(string: #"2["ok"]"#)) == .event("ok"))
    }

    @Test func tooManyAttachmentsWithCustomLimit() {
        var decoder = SocketIOPacketDecoder(maxAttachments: 2)
        let text = #"53-["hello",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},{"_placeholder":true,"num":2}]"#
        #expect(throws: SocketIOProtocolError.tooManyAttachments) { try decoder.decode(text: ByteBuffer(string: text)) }
        #expect(throws: Never.self) { try decoder.decode(text: ByteBuffer(string: #"52-["a"]"#)) }
    }

    @Test func attachmentCountAtTheLimitIsAccepted() throws {
        var decoder = SocketIOPacketDecoder()
        let placeholders = (0..<10).map { #"{"_placeholder":true,"num":\#($0)}"# }.joined(separator: ",")
        #expect(try decoder.decode(text: ByteBuffer(string: "510-[\"many\",\(placeholders)]")) == nil)
        var packet: SocketIOPacket?
        for byte in 0..<10 as Range<UInt8> { packet = try decoder.decode(binary: ByteBuffer(bytes: [byte])) }
        #expect(packet?.arguments == (0..<10 as Range<UInt8>).map { .binary(ByteBuffer(bytes: [$0])) })
    }

    @Test func invalidUTF8IsRepairedNotFatal() throws {
        // WebSocket text frames are validated upstream; polling bodies may not be.
        let packet = try SocketIOPacketDecoder().decodeCopy(ByteBuffer(bytes: Array(#"2["a"#.utf8) + [0xFF] + Array(#""]"#.utf8)))
        #expect(packet?.eventName == "a\u{FFFD}")
    }

    @Test func attachmentWithoutPendingPacket() {
        var decoder = SocketIOPacketDecoder()
        #expect(throws: SocketIOProtocolError.unexpectedBinary) { try decoder.decode(binary: ByteBuffer(string: "world")) }
        _ = try? decoder.decode(text: ByteBuffer(string: #"2["a"]"#))
        #expect(throws: SocketIOProtocolError.unexpectedBinary) { try decoder.decode(binary: ByteBuffer(string: "world")) }
    }

    @Test func textWhileAwaitingAttachments() throws {
        var decoder = SocketIOPacketDecoder()
        #expect(try decoder.decode(text: ByteBuffer(string: #"51-["hello",{"_placeholder":true,"num":0}]"#)) == nil)
        #expect(throws: SocketIOProtocolError.unexpectedText) { try decoder.decode(text: ByteBuffer(string: #"2["hello"]"#)) }
        #expect(!decoder.isAwaitingAttachments)
    }

    @Test func resetResumesDecoding() throws {
        var decoder = SocketIOPacketDecoder()
        #expect(try decoder.decode(text: ByteBuffer(string: #"51-["hello",{"_placeholder":true,"num":0}]"#)) == nil)
        decoder.reset()
        #expect(try decoder.decode(text: ByteBuffer(string: #"2["hello"]"#)) == .event("hello"))
    }

    @Test func errorDescriptions() {
        #expect(SocketIOProtocolError.tooManyAttachments.description == "too many attachments")
        do {
            _ = try decodeOne("2[")
        } catch {
            #expect(error == .invalidJSON)
            #expect(error.jsonError?.offset == 2)  // offsets count from the packet text start
        }
    }

    @Test func validateMirrorsIsPacketValid() {
        #expect(throws: Never.self) { try SocketIOPacket(type: .connect).validate() }
        #expect(throws: SocketIOProtocolError.invalidPayload) { try SocketIOPacket(type: .connect, namespace: "/admin", data: "invalid").validate() }
        #expect(throws: SocketIOProtocolError.invalidPayload) { try SocketIOPacket(type: .connect, data: []).validate() }
        #expect(throws: SocketIOProtocolError.invalidPayload) { try SocketIOPacket(type: .disconnect, namespace: "/admin", data: .object([:])).validate() }
        #expect(throws: SocketIOProtocolError.invalidPayload) { try SocketIOPacket(type: .event, namespace: "/admin", data: "invalid").validate() }
        #expect(throws: SocketIOProtocolError.invalidPayload) { try SocketIOPacket(type: .event, data: ["toString": "foo"]).validate() }
        #expect(throws: SocketIOProtocolError.invalidPayload) { try SocketIOPacket(type: .event, data: [true, "foo"]).validate() }
        #expect(throws: SocketIOProtocolError.invalidPayload) { try SocketIOPacket(type: .event, data: [nil, "bar"]).validate() }
        #expect(throws: SocketIOProtocolError.invalidPayload) { try SocketIOPacket.event("connect").validate() }
        #expect(throws: SocketIOProtocolError.invalidPayload) { try SocketIOPacket.event("disconnect", ["123"]).validate() }
        #expect(throws: SocketIOProtocolError.invalidPayload) { try SocketIOPacket(type: .event).validate() }
        #expect(throws: SocketIOProtocolError.invalidNamespace) { try SocketIOPacket.event("a", namespace: "admin").validate() }
        #expect(throws: SocketIOProtocolError.invalidNamespace) { try SocketIOPacket.event("a", namespace: "/a,b").validate() }
        #expect(throws: SocketIOProtocolError.invalidAckId) { try SocketIOPacket.event("a", id: -1).validate() }
        #expect(throws: Never.self) { try SocketIOPacket.event("a", [.binary(ByteBuffer())], id: 3).validate() }
        #expect(throws: Never.self) { try SocketIOPacket.ack(id: 3).validate() }
        #expect(throws: Never.self) { try SocketIOPacket.connectError(message: "x").validate() }
    }
}
