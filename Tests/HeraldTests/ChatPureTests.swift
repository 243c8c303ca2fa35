@testable import Herald
import HeraldStore
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
        func parse(_ json: String, max: Int = 10, maxBytes: Int = 40) throws(ChatError) -> SendRequest {
            try SendRequest(try? JSONValue(parsing: json), maxLength: max, maxBytes: maxBytes)
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
            // One character of 41 bytes: a letter and twenty combining acute accents.
            (#"{"room":"chat:1","text":"a\#(String(repeating: "\u{301}", count: 20))"}"#, .textTooLong),
            ("{\"room\":\"chat:\(String(repeating: "r", count: 260))\",\"text\":\"hi\"}", .invalidRoom),
            (#"{"room":"chat:\u0007","text":"hi"}"#, .invalidRoom),
            (#"{"room":"chat:1","text":"hi","clientMessageId":7}"#, .invalidPayload),
            (#"{"room":"chat:1","text":"hi","clientMessageId":""}"#, .invalidPayload),
            ("{\"room\":\"chat:1\",\"text\":\"hi\",\"clientMessageId\":\"\(String(repeating: "c", count: 129))\"}", .invalidPayload),
        ]
        for (json, code) in cases {
            let error = #expect(throws: ChatError.self, "\(json)") { try parse(json) }
            #expect(error?.code == code, "\(json)")
        }
    }

    @Test func historyPagesAreBoundedInBytes() {
        let messages = (1...5).map {
            StoredMessage(id: Int64($0), room: "chat:1", sender: "s", text: String(repeating: "x", count: 100), timeMilliseconds: 0, clientMessageID: nil)
        }
        let size = messages[0].json.jsonString.utf8.count + 1
        let whole = MessagePage(messages: messages, next: nil).json(maxBytes: 5 * size)
        #expect(whole["messages"]?.arrayValue?.count == 5)
        #expect(whole["next"] == .null)
        // Two fit: the newest two, and `next` pages on from the oldest kept one.
        let trimmed = MessagePage(messages: messages, next: nil).json(maxBytes: 2 * size + 1)
        #expect(trimmed["messages"]?.arrayValue?.map { $0["id"] } == ["4", "5"])
        #expect(trimmed["next"] == "4")
        // A message larger than the page still goes out alone, so paging always moves.
        let tiny = MessagePage(messages: messages, next: 1).json(maxBytes: 10)
        #expect(tiny["messages"]?.arrayValue?.map { $0["id"] } == ["5"])
        #expect(tiny["next"] == "5")
    }

    @Test func errorAckShape() {
        #expect(ChatError(.emptyText, "text is empty").ack.jsonString == #"{"ok":false,"error":{"code":"empty_text","message":"text is empty"}}"#)
    }
}
