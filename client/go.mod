module github.com/alarmgate/alarmgate/client

go 1.26

require (
	github.com/alarmgate/alarmgate/protocol v0.0.0-00010101000000-000000000000
	github.com/coder/websocket v1.8.15
)

replace github.com/alarmgate/alarmgate/protocol => ../protocol
