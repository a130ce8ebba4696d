package main

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/caarlos0/env/v11"

	"github.com/alarmgate/alarmgate/internal/defaults"
)

// nodeFields maps the path of each node.Config field that nodeConfig
// fills from the environment to the config field it comes from, so a
// refusal of node.Config.Validate names the variable the user set.
// TestNodeFieldsMapToVariables keeps it complete.
var nodeFields = map[string]string{
	"NodeID":                "NodeID",
	"JWTSecret":             "JWTSecret",
	"APIKeys":               "APIKeys",
	"Stream.Prefix":         "RedisPrefix",
	"Stream.Partitions":     "Partitions",
	"Stream.MaxLen":         "StreamMaxLen",
	"Stream.Retention":      "StreamRetention",
	"Stream.ChannelBacklog": "ChannelBacklog",
	"Stream.InboxRetention": "InboxRetention",
	"Stream.MaxAlarmBytes":  "MaxAlarmBytes",
	"Stream.MinReplicas":    "MinReplicas",
	"Stream.ReplicaTimeout": "ReplicaTimeout",
	"Hub.Window":            "Window",
	"Hub.QueueLen":          "QueueLen",
	"WS.HelloTimeout":       "HelloTimeout",
	"WS.PingInterval":       "PingInterval",
	"WS.AllowedOrigins":     "AllowedOrigins",
	"Conns.MaxConnections":  "MaxConnections",
	"Conns.ConnectRate":     "ConnectRate",
	"Conns.ConnectBurst":    "ConnectBurst",
	"Conns.TrustedProxies":  "TrustedProxies",
	"Users.StateRate":       "UserStateRate",
	"Users.StateBurst":      "UserStateBurst",
	"Users.InboxReadRate":   "UserInboxReadRate",
	"Users.InboxReadBurst":  "UserInboxReadBurst",
	"SSE.AllowedOrigins":    "AllowedOrigins",
	"API.MaxBodyBytes":      "MaxAlarmBytes",
	"API.PublishRate":       "PublishRate",
	"API.PublishBurst":      "PublishBurst",
	"API.AllowedOrigins":    "AllowedOrigins",
	"DrainDelay":            "DrainDelay",
	"CloseSpread":           "CloseSpread",
	"ReadTimeout":           "ReadTimeout",
	"IdleTimeout":           "IdleTimeout",
	"Ingest.BatchSize":      "IngestBatch",
	"Ingest.ClaimIdle":      "IngestClaimIdle",
}

// envName returns the variable of a config field ("Window" ->
// "GATEWAY_WINDOW"), "" for none.
func envName(field string) string {
	f, ok := reflect.TypeFor[config]().FieldByName(field)
	if !ok {
		return ""
	}
	key, _, _ := strings.Cut(f.Tag.Get("env"), ",")
	return key
}

// validateNode runs node.Config.Validate on the node configuration the
// environment makes (with the demo's generated secrets where serve would
// generate them) and names each refused field by its variable. A field
// the environment does not set keeps its Go path.
func (c *config) validateNode() []error {
	cc := *c
	if cc.embedded() {
		fillDemoSecrets(&cc)
	}
	ncfg := nodeConfig(cc)
	ncfg.JWKS, _ = cc.jwks(nil) // its error is validateOps'
	var out []error
	for _, e := range defaults.Problems(ncfg.Validate()) {
		var fe *defaults.FieldError
		if errors.As(e, &fe) {
			if name := envName(nodeFields[fe.Field]); name != "" {
				out = append(out, fmt.Errorf("%s: %s", name, fe.Msg))
				continue
			}
			e = fmt.Errorf("node.Config.%w", fe)
		}
		out = append(out, e)
	}
	return out
}

// problems collects the configuration's problems in the order found.
type problems struct {
	list []error
	vars map[string]bool // the variables reported so far
}

func (p *problems) add(err error) {
	if p.vars == nil {
		p.vars = map[string]bool{}
	}
	p.vars[variableOf(err)] = true
	p.list = append(p.list, err)
}

// addOnce adds err unless its variable was reported already: the same
// value refused again by a later check.
func (p *problems) addOnce(err error) {
	if v := variableOf(err); v == "" || !p.vars[v] {
		p.add(err)
	}
}

// variableOf returns the variable a problem starts with, "" for none.
func variableOf(err error) string {
	name, _, _ := strings.Cut(err.Error(), ":")
	if !strings.HasPrefix(name, "GATEWAY_") || strings.Contains(name, " ") {
		return ""
	}
	return name
}

// addEnvError adds each of caarlos0/env's parse errors, by variable (it
// names the struct field).
func (p *problems) addEnvError(err error) {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		p.add(err)
		return
	}
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if name := envName(pe.Name); name != "" {
				p.add(fmt.Errorf("%s: %w", name, pe.Err))
				continue
			}
		}
		p.add(e)
	}
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &configError{problems: p.list}
}

// configError is every problem of a configuration, one a line, each
// starting with the variable it is about, then notes (warnings) that are
// not the reason it was refused.
type configError struct {
	problems []error
	notes    []string
}

func (e *configError) Error() string {
	lines := make([]string, 0, len(e.problems)+len(e.notes))
	for _, p := range e.problems {
		lines = append(lines, p.Error())
	}
	return strings.Join(append(lines, e.notes...), "\n")
}

// Unwrap returns the problems.
func (e *configError) Unwrap() []error { return e.problems }
