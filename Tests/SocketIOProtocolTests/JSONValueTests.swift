import NIOCore
import Testing

@testable import SocketIOProtocol

@Suite struct JSONValueTests {
    @Test func compactRoundTrip() throws {
        let text = #"{"a":[1,2.5,"x",true,false,null],"b":{},"c":[]}"#
        #expect(try JSONValue(parsing: text).jsonString == text)
    }

    @Test func parsesFromByteBufferAndAllowsSurroundingWhitespace() throws {
        let buffer = ByteBuffer(string: " \n\t[ 1 , { \"k\" : \"v\" } ]\r\n ")
        #expect(try JSONValue(parsing: buffer) == [1, ["k": "v"]])
    }

    @Test func parsesFromSliceOfBuffer() throws {
        var buffer = ByteBuffer(string: "xx[1]")
        buffer.moveReaderIndex(forwardBy: 2)
        #expect(try JSONValue(parsing: buffer) == [1])
    }

    @Test(arguments: [
        ("\"a\\\"b\"", "a\"b"),
        ("\"\\\\\"", "\\"),
        ("\"\\/\"", "/"),
        ("\"\\b\\f\\n\\r\\t\"", "\u{8}\u{c}\n\r\t"),
        ("\"\\u0041\\u00e9\"", "Aé"),
        ("\"\\ud83d\\ude00\"", "😀"),
        ("\"😀é\"", "😀é"),
        ("\"\\ud83d\"", "\u{FFFD}"),
        ("\"\\ude00x\"", "\u{FFFD}x"),
        ("\"\\ud83d\\u0041\"", "\u{FFFD}A"),
    ])
    func parsesStrings(text: String, expected: String) throws {
        #expect(try JSONValue(parsing: text) == .string(expected))
    }

    static let numberCases: [(String, JSONValue)] = [
        ("0", .int(0)),
        ("-0", .int(0)),
        ("42", .int(42)),
        ("-17", .int(-17)),
        ("9223372036854775807", .int(.max)),
        ("-9223372036854775808", .int(.min)),
        ("9223372036854775808", .double(9223372036854775808)),
        ("1.5", .double(1.5)),
        ("0.1", .double(0.1)),
        ("1e3", .double(1000)),
        ("1E+3", .double(1000)),
        ("2.5e-3", .double(0.0025)),
        ("123456789012345678901234567890", .double(1.2345678901234568e29)),
        ("1.7976931348623157e308", .double(.greatestFiniteMagnitude)),
        ("5e-324", .double(.leastNonzeroMagnitude)),
        ("0.30000000000000004", .double(0.30000000000000004)),
    ]

    @Test(arguments: numberCases)
    func parsesNumbers(text: String, expected: JSONValue) throws {
        #expect(try JSONValue(parsing: text) == expected)
    }

    @Test(arguments: [
        "", " ", "[", "]", "{", "[1,]", "[1 2]", "{\"a\"}", "{\"a\":}", "{a:1}", "{\"a\":1,}",
        "01", "-", "1.", ".5", "1e", "1e+", "+1", "0x10", "NaN", "Infinity", "tru", "nul", "True",
        "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"", "\"a\u{1}b\"", "\"tab\there\"", "'a'",
        "[1] x", "1 2", "{}{}", "[\"a\"", "[[[",
    ])
    func rejectsInvalidJSON(text: String) {
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: text) }
    }

    @Test func rejectsExcessiveNesting() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue(parsing: deep) }
        let ok = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(throws: Never.self) { try JSONValue(parsing: ok) }
    }

    @Test func errorCarriesOffset() {
        do {
            _ = try JSONValue(parsing: "[1,x]")
            Issue.record("expected an error")
        } catch {
            #expect(error.offset == 3)
            #expect(error.description.contains("offset 3"))
        }
    }

    // Expected strings are what node's JSON.stringify prints.
    static let stringifyCases: [(JSONValue, String)] = [
        (.string("quote\" back\\slash"), #""quote\" back\\slash""#),
        (.string("\u{8}\u{c}\n\r\t"), #""\b\f\n\r\t""#),
        (.string("\u{0}\u{1}\u{1f}\u{7f}"), #""\u0000\u0001\u001f\#u{7f}""#),
        (.string("a/b</script>"), #""a/b</script>""#),
        (.string("émoji 😀 日本語"), "\"émoji 😀 日本語\""),
        (.string("\u{2028}\u{2029}"), "\"\u{2028}\u{2029}\""),
        (.string("0123456789abcdef\"0123456789abcdef\n"), #""0123456789abcdef\"0123456789abcdef\n""#),
        (.string(""), #""""#),
        (.double(1.5), "1.5"),
        (.double(0.1), "0.1"),
        (.double(-0.0), "0"),
        (.double(100), "100"),
        (.double(1e21), "1e+21"),
        (.double(1e20), "100000000000000000000"),
        (.double(Double("123456789012345680000")!), "123456789012345680000"),
        (.double(1.2345e21), "1.2345e+21"),
        (.double(1e-7), "1e-7"),
        (.double(1.5e-7), "1.5e-7"),
        (.double(1e-6), "0.000001"),
        (.double(0.000123), "0.000123"),
        (.double(-2.5e-10), "-2.5e-10"),
        (.double(0.1 + 0.2), "0.30000000000000004"),
        (.double(.leastNonzeroMagnitude), "5e-324"),
        (.double(.greatestFiniteMagnitude), "1.7976931348623157e+308"),
        (.double(9007199254740992 + 1), "9007199254740992"),
        (.double(1e16), "10000000000000000"),
        (.double(-1234.5678), "-1234.5678"),
        (.double(.nan), "null"),
        (.double(.infinity), "null"),
        (.double(-.infinity), "null"),
        (.int(0), "0"),
        (.int(-7), "-7"),
        (.int(.max), "9223372036854775807"),
        (.int(.min), "-9223372036854775808"),
        (.binary(ByteBuffer(string: "x")), "null"),
        (.object(["a": 1, "b": [true, nil]]), #"{"a":1,"b":[true,null]}"#),
    ]

    @Test(arguments: stringifyCases)
    func stringifiesLikeJavaScript(value: JSONValue, expected: String) {
        #expect(value.jsonString == expected)
    }

    @Test func writeAppendsToExistingBytes() {
        var buffer = ByteBuffer(string: "4")
        JSONValue.array(["x"]).write(to: &buffer)
        #expect(String(buffer: buffer) == #"4["x"]"#)
    }

    @Test func objectKeepsInsertionOrder() throws {
        var object: JSONObject = ["z": 1, "a": 2]
        object["m"] = 3
        object["z"] = 9  // existing key keeps its place
        #expect(object.keys == ["z", "a", "m"])
        #expect(JSONValue.object(object).jsonString == #"{"z":9,"a":2,"m":3}"#)
        object["a"] = nil
        #expect(object.keys == ["z", "m"])
        #expect(object.count == 2)
        #expect(object.map(\.key) == ["z", "m"])
    }

    @Test func integerLikeKeysComeFirstAsInJavaScript() throws {
        // node: JSON.stringify(JSON.parse(text))
        let text = #"{"b":1,"10":2,"a":3,"2":4,"01":5,"-1":6,"4294967294":7,"4294967295":8,"0":9}"#
        #expect(try JSONValue(parsing: text).jsonString
            == #"{"0":9,"2":4,"10":2,"4294967294":7,"b":1,"a":3,"01":5,"-1":6,"4294967295":8}"#)
    }

    @Test func duplicateKeysKeepFirstPositionAndLastValue() throws {
        let value = try JSONValue(parsing: #"{"a":1,"b":2,"a":3}"#)
        #expect(value.jsonString == #"{"a":3,"b":2}"#)
    }

    @Test func largeObjectsUseTheIndexConsistently() {
        var object = JSONObject()
        for i in 0..<100 { object["k\(i)"] = .int(i) }
        #expect(object["k57"] == 57)
        object["k10"] = nil
        #expect(object["k10"] == nil)
        #expect(object["k11"] == 11)
        #expect(object.count == 99)
        object["k11"] = "x"
        #expect(object.keys[10] == "k11")
        for i in 0..<95 { object["k\(i)"] = nil }
        #expect(object.keys == ["k95", "k96", "k97", "k98", "k99"])
        #expect(object["k97"] == 97)
    }

    @Test func objectEqualityIgnoresOrder() {
        let a: JSONObject = ["x": 1, "y": 2]
        let b: JSONObject = ["y": 2, "x": 1]
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(a != ["x": 1, "y": 3])
        #expect(a != ["x": 1])
    }

    @Test func accessors() {
        let value: JSONValue = ["s": "str", "i": 3, "d": 2.5, "b": true, "n": nil, "a": [1, 2], "o": ["k": "v"], "w": 4.0]
        #expect(value["s"]?.stringValue == "str")
        #expect(value["i"]?.intValue == 3)
        #expect(value["w"]?.intValue == 4)
        #expect(value["d"]?.intValue == nil)
        #expect(value["d"]?.doubleValue == 2.5)
        #expect(value["i"]?.doubleValue == 3)
        #expect(value["b"]?.boolValue == true)
        #expect(value["n"]?.isNull == true)
        #expect(value["a"]?[1] == 2)
        #expect(value["a"]?[2] == nil)
        #expect(value["a"]?.arrayValue?.count == 2)
        #expect(value["o"]?.objectValue?["k"] == "v")
        #expect(value["missing"] == nil)
        #expect(value[0] == nil)
        #expect(JSONValue.string("x")["k"] == nil)
    }

    struct Order: Codable, Equatable {
        var id: Int
        var status: String
        var total: Double
        var tags: [String]
    }

    @Test func codableBridge() throws {
        let order = Order(id: 7, status: "shipped/\"fast\"", total: 12.5, tags: ["a", "b"])
        let value = try JSONValue(encoding: order)
        #expect(value["id"] == 7)
        #expect(value["status"] == "shipped/\"fast\"")
        #expect(try value.decode(Order.self) == order)
    }
}
