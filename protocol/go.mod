module github.com/alarmgate/alarmgate/protocol

go 1.26
