@testable import Herald
import SocketIOProtocol
import Testing

@Suite struct ChatPureTests {
    @Test func timesAreISO8601UTCWithMilliseconds() {
        #expect(ChatTime.iso8601(milliseconds: 0) == "1970-01-01T00:00:00.000Z")
        #expect(ChatTime.iso8601(milliseconds: 1_700_000_000_123) == "2023-11-14T22:13:20.123Z")
        #expect(ChatTime.iso8601(milliseconds: 1_709_164_800_000) == "2024-02-29T00:00:00.000Z")
        #expect(ChatTime.iso8601(milliseconds: 951_868_799_999) == "2000-02-29T23:59:59.999Z")
        #expect(ChatTime.iso8601(milliseconds: -1) == "1969-12-31T23:59:59.999Z")
    }

    @Test func sendPayloadValidation() throws {
        func parse(_ json: String, max: Int = 10) throws(ChatError) -> SendRequest {
            try SendRequest(try? JSONValue(parsing: json), maxLength: max)
        }
        #expect(try parse(#"{"room":"chat:1","text":"hi"}"#) == SendRequest(room: "chat:1", text: "hi", clientMessageID: nil))
        #expect(try parse(#"{"room":"chat:1","text":"hi","clientMessageId":"c1"}"#).clientMessageID == "c1")
        #expect(try parse(#"{"room":"chat:1","text":"hi","clientMessageId":null}"#).clientMessageID == nil)
        // Ten characters, counted as people see them (an emoji is one).
        #expect(try parse(#"{"room":"chat:1","text":"🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉"}"#).text.count == 10)
        let cases: [(String, ChatError.Code)] = [
            (#""just text""#, .invalidPayload),
            (#"{"text":"hi"}"#, .invalidPayload),
            (#"{"room":5,"text":"hi"}"#, .invalidPayload),
            (#"{"room":"order:1","text":"hi"}"#, .notChatRoom),
            (#"{"room":"chat:","text":"hi"}"#, .notChatRoom),
            (#"{"room":"chat:1"}"#, .invalidPayload),
            (#"{"room":"chat:1","text":""}"#, .emptyText),
            (#"{"room":"chat:1","text":" \n\t "}"#, .emptyText),
            (#"{"room":"chat:1","text":"12345678901"}"#, .textTooLong),
            (#"{"room":"chat:1","text":"hi","clientMessageId":7}"#, .invalidPayload),
            (#"{"room":"chat:1","text":"hi","clientMessageId":""}"#, .invalidPayload),
            ("{\"room\":\"chat:1\",\"text\":\"hi\",\"clientMessageId\":\"\(String(repeating: "c", count: 129))\"}", .invalidPayload),
        ]
        for (json, code) in cases {
            let error = #expect(throws: ChatError.self, "\(json)") { try parse(json) }
            #expect(error?.code == code, "\(json)")
        }
    }

    @Test func errorAckShape() {
        #expect(ChatError(.emptyText, "text is empty").ack.jsonString == #"{"ok":false,"error":{"code":"empty_text","message":"text is empty"}}"#)
    }
}
