import NIOCore
import SocketIOProtocol

/// Publish request decoder (Herald/Publishing): what it accepts passes validation, has 1…100 distinct rooms and
/// bounded names, and survives a round trip through its JSON form unchanged.
func fuzzPublishRequest(_ bytes: UnsafeRawBufferPointer) {
    guard let request = try? PublishRequest(json: ByteBuffer(bytes: bytes)) else { return }
    do {
        try PublishValidation.check(request)
    } catch {
        fuzzCheck(false, "accepted request fails validation: \(error)")
    }
    fuzzCheck(!request.rooms.isEmpty && request.rooms.count <= PublishValidation.maxRooms, "\(request.rooms.count) rooms")
    fuzzCheck(Set(request.rooms).count == request.rooms.count, "duplicate rooms")
    for name in request.rooms + request.except + [request.namespace, request.event] {
        fuzzCheck(name.utf8.count <= PublishValidation.maxNameLength, "a name of \(name.utf8.count) bytes")
        fuzzCheck(!name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }, "a control character in \(name)")
    }
    fuzzCheck(!PublishValidation.reservedEvents.contains(request.event), "reserved event \(request.event)")

    var object: JSONObject = [
        "namespace": .string(request.namespace),
        "rooms": .array(request.rooms.map(JSONValue.string)),
        "except": .array(request.except.map(JSONValue.string)),
        "event": .string(request.event),
        "args": .array(request.args),
    ]
    if let key = request.idempotencyKey { object["idempotencyKey"] = .string(key) }
    var encoded = ByteBuffer()
    JSONValue.object(object).write(to: &encoded)
    do {
        let again = try PublishRequest(json: encoded)
        // Arguments compare by their JSON text (1.0 reads back as 1).
        fuzzCheck(again.namespace == request.namespace && again.rooms == request.rooms && again.except == request.except
                  && again.event == request.event && again.idempotencyKey == request.idempotencyKey
                  && JSONValue.array(again.args).jsonString == JSONValue.array(request.args).jsonString,
                  "round trip changed \(request) into \(again)")
    } catch {
        fuzzCheck(false, "the JSON form of an accepted request is refused: \(error)")
    }
}
