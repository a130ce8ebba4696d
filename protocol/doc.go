// Package protocol is the vocabulary of the gateway's WebSocket protocol,
// shared by the server and the Go client: message types and structs,
// alarm ids, resume statuses and close codes.
//
// A connection goes like this:
//
//  1. The client opens a WebSocket to /v1/ws and sends Hello with its token
//     and, when it has one, the last_id and epoch it stopped at. No hello
//     within the server's timeout: close CloseNoHello.
//  2. The server answers with Welcome. Its Resume.Status says whether
//     delivery continues after last_id (StatusResumed) or the client's
//     state may be stale (every other Status).
//  3. For StatusResumed, the Resume.Replayed alarms after last_id follow.
//  4. Live alarms follow, ids strictly increasing. After an idle interval
//     the server sends Ping (and a WebSocket ping).
//  5. The server ends the connection with a CloseCode, which says whether
//     and how the client reconnects. A client resumes by sending the id of
//     the last alarm it processed, or the welcome's position when none
//     came since.
//
// Every message is a compact JSON object with a "type" field, sent in a
// text frame. One frame may carry several messages separated by '\n';
// clients split on '\n' and ignore types they do not know.
package protocol
