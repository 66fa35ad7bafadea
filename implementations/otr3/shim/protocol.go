// The otrcheck peer protocol, version 1 (docs/peer-protocol.md), server side, in Go.
//
// Invariants:
//   - exactly one response line per request line, in request order; blank lines are skipped;
//   - a request is validated field by field before the adapter sees it: a missing or mistyped
//     field, an unknown op or an unknown non-"x-" field is answered bad_request (id null when
//     the request has no integer id); "x-" fields are dropped, "x-" ops go to extension;
//   - a panic inside the library is answered internal and serving goes on;
//   - responses are plain ASCII (every other character escaped as \uXXXX).
package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
)

const extension = "x-"

// kv and obj keep JSON objects in the order they are built.
type kv struct {
	k string
	v interface{}
}
type obj []kv

func (o obj) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte('{')
	for i, pair := range o {
		if i > 0 {
			buf.WriteByte(',')
		}
		key, _ := json.Marshal(pair.k)
		buf.Write(key)
		buf.WriteByte(':')
		value, err := json.Marshal(pair.v)
		if err != nil {
			return nil, err
		}
		buf.Write(value)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// protocolError is an ok:false answer: kind is unsupported, bad_request or internal.
type protocolError struct{ kind, detail string }

func (e *protocolError) Error() string { return e.kind + ": " + e.detail }

func badRequest(format string, a ...interface{}) error {
	return &protocolError{"bad_request", fmt.Sprintf(format, a...)}
}

func unsupported(format string, a ...interface{}) error {
	return &protocolError{"unsupported", fmt.Sprintf(format, a...)}
}

// result is what one op produced: out, events and op-specific fields.
type result struct {
	out    []obj
	events []obj
	fields obj
}

type dsaKey struct{ p, q, g, y, x *big.Int }

type policy struct {
	allowV2, allowV3, requireEncryption, sendWhitespaceTag, whitespaceStartAKE, errorStartAKE bool
}

type initConfig struct {
	account, protocol string
	key               dsaKey
	instanceTag       uint32
	policy            policy
	maxMessageSize    int64
	seed              []byte // nil: system randomness
}

var (
	integerLiteral = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)
	hexDigits      = regexp.MustCompile(`^[0-9a-fA-F]*$`)
)

func asInt(v interface{}) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok || !integerLiteral.MatchString(string(n)) {
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	return i, err == nil
}

func text(name string, v interface{}) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", badRequest("%s must be a string", name)
	}
	return s, nil
}

func nonEmpty(name string, v interface{}) (string, error) {
	s, ok := v.(string)
	if !ok || s == "" {
		return "", badRequest("%s must be a non-empty string", name)
	}
	return s, nil
}

func u32(name string, v interface{}) (uint32, error) {
	i, ok := asInt(v)
	if !ok || i < 0 || i > 0xffffffff {
		return 0, badRequest("%s must be an integer in 0..0xffffffff", name)
	}
	return uint32(i), nil
}

func hexBytes(name string, v interface{}) ([]byte, error) {
	s, ok := v.(string)
	if !ok || !hexDigits.MatchString(s) || len(s)%2 != 0 {
		return nil, badRequest("%s must be a string of hex digit pairs", name)
	}
	b, _ := hex.DecodeString(s)
	return b, nil
}

func withoutExtensions(name string, v interface{}) (map[string]interface{}, error) {
	m, ok := v.(map[string]interface{})
	if !ok {
		return nil, badRequest("%s must be an object", name)
	}
	out := map[string]interface{}{}
	for k, val := range m {
		if !strings.HasPrefix(k, extension) {
			out[k] = val
		}
	}
	return out, nil
}

func privateKey(name string, v interface{}) (dsaKey, error) {
	m, err := withoutExtensions(name, v)
	if err != nil {
		return dsaKey{}, err
	}
	parts := []string{"p", "q", "g", "y", "x"}
	var unknown []string
	for k := range m {
		if !contains(parts, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return dsaKey{}, badRequest("%s: unknown fields %q", name, unknown)
	}
	numbers := map[string]*big.Int{}
	for _, part := range parts {
		raw, present := m[part]
		if !present {
			return dsaKey{}, badRequest("%s: missing %s", name, part)
		}
		s, ok := raw.(string)
		if !ok || s == "" || !hexDigits.MatchString(s) {
			return dsaKey{}, badRequest("%s.%s must be a non-empty hex string", name, part)
		}
		numbers[part], _ = new(big.Int).SetString(s, 16)
	}
	return dsaKey{numbers["p"], numbers["q"], numbers["g"], numbers["y"], numbers["x"]}, nil
}

func policyFlags(name string, v interface{}) (policy, error) {
	m, err := withoutExtensions(name, v)
	if err != nil {
		return policy{}, err
	}
	p := policy{allowV2: true, allowV3: true, whitespaceStartAKE: true, errorStartAKE: true}
	flags := map[string]*bool{
		"allow_v2": &p.allowV2, "allow_v3": &p.allowV3, "require_encryption": &p.requireEncryption,
		"send_whitespace_tag": &p.sendWhitespaceTag, "whitespace_start_ake": &p.whitespaceStartAKE,
		"error_start_ake": &p.errorStartAKE,
	}
	var unknown []string
	for k := range m {
		if _, ok := flags[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return policy{}, badRequest("unknown policy flags: %q", unknown)
	}
	for k, val := range m {
		b, ok := val.(bool)
		if !ok {
			return policy{}, badRequest("policy flag %s must be a boolean", k)
		}
		*flags[k] = b
	}
	return p, nil
}

func contains(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}

// opFields lists each op's fields; optional ones are marked with a default.
var opFields = map[string][]string{
	"hello":       {},
	"init":        {"account", "protocol", "key", "instance_tag", "policy?", "max_message_size?", "seed?"},
	"send":        {"peer", "text"},
	"receive":     {"peer", "wire"},
	"query":       {"peer"},
	"end":         {"peer"},
	"smp_start":   {"peer", "secret", "question?"},
	"smp_respond": {"peer", "secret"},
	"smp_abort":   {"peer"},
	"symkey":      {"peer", "use", "usedata"},
	"status":      {"peer"},
	"quit":        {},
}

// request is a validated request: its fields converted, x- fields dropped.
type request struct {
	id     int64
	op     string
	peer   string
	str    map[string]string // text, wire, secret
	opt    *string           // question
	use    uint32
	data   []byte // usedata
	config initConfig
	ext    map[string]interface{} // an x- op's fields
}

func requestID(m map[string]interface{}) (int64, bool) {
	if m == nil {
		return 0, false
	}
	return asInt(m["id"])
}

func decodeRequest(m map[string]interface{}) (*request, error) {
	id, ok := requestID(m)
	if !ok {
		return nil, badRequest("a request needs an integer id")
	}
	rawOp, present := m["op"]
	if !present {
		return nil, badRequest("missing field 'op'")
	}
	op, ok := rawOp.(string)
	if !ok {
		return nil, badRequest("op must be a string")
	}
	req := &request{id: id, op: op, str: map[string]string{}}
	if strings.HasPrefix(op, extension) {
		req.ext = map[string]interface{}{}
		for k, v := range m {
			if k != "id" && k != "op" {
				req.ext[k] = v
			}
		}
		return req, nil
	}
	spec, known := opFields[op]
	if !known {
		return nil, badRequest("unknown op %q", op)
	}
	names := map[string]bool{"id": true, "op": true}
	for _, f := range spec {
		names[strings.TrimSuffix(f, "?")] = true
	}
	var unknown []string
	for k := range m {
		if !names[k] && !strings.HasPrefix(k, extension) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, badRequest("%s: unknown fields %q", op, unknown)
	}
	for _, f := range spec {
		name := strings.TrimSuffix(f, "?")
		v, present := m[name]
		if !present && name == f {
			return nil, badRequest("%s: missing field '%s'", op, name)
		}
		if err := req.set(name, v, present); err != nil {
			return nil, err
		}
	}
	return req, nil
}

// set converts one field; absent optional fields take their defaults.
func (r *request) set(name string, v interface{}, present bool) (err error) {
	switch name {
	case "peer":
		r.peer, err = nonEmpty(name, v)
	case "text", "wire", "secret":
		r.str[name], err = text(name, v)
	case "question":
		if present && v != nil {
			var q string
			q, err = text(name, v)
			r.opt = &q
		}
	case "use":
		r.use, err = u32(name, v)
	case "usedata":
		r.data, err = hexBytes(name, v)
	case "account":
		r.config.account, err = nonEmpty(name, v)
	case "protocol":
		r.config.protocol, err = nonEmpty(name, v)
	case "key":
		r.config.key, err = privateKey(name, v)
	case "instance_tag":
		r.config.instanceTag, err = u32(name, v)
	case "policy":
		if !present {
			v = map[string]interface{}{}
		}
		r.config.policy, err = policyFlags(name, v)
	case "max_message_size":
		if present {
			i, ok := asInt(v)
			if !ok || i < 0 {
				return badRequest("%s must be a non-negative integer", name)
			}
			r.config.maxMessageSize = i
		}
	case "seed":
		if present && v != nil {
			r.config.seed, err = hexBytes(name, v)
			if err == nil && r.config.seed == nil {
				r.config.seed = []byte{}
			}
		}
	}
	return err
}

func errorResponse(id interface{}, kind, detail string) obj {
	return obj{{"id", id}, {"ok", false}, {"error", obj{{"kind", kind}, {"detail", detail}}}}
}

// asciiJSON escapes every non-ASCII character of a JSON text.
func asciiJSON(b []byte) []byte {
	var out bytes.Buffer
	for _, r := range string(b) {
		if r < 0x7f {
			out.WriteRune(r)
			continue
		}
		if r > 0xffff {
			hi, lo := utf16.EncodeRune(r)
			fmt.Fprintf(&out, "\\u%04x\\u%04x", hi, lo)
			continue
		}
		fmt.Fprintf(&out, "\\u%04x", r)
	}
	return out.Bytes()
}

// serve answers requests from in on out until quit or end of input; it returns the exit status.
func serve(a *adapter, in io.Reader, out io.Writer) int {
	reader := bufio.NewReaderSize(in, 1<<20)
	for {
		line, readErr := reader.ReadString('\n')
		if strings.TrimSpace(line) != "" {
			response, op := handleLine(a, line)
			encoded, err := json.Marshal(response)
			if err != nil {
				encoded, _ = json.Marshal(errorResponse(nil, "internal", "unserializable response: "+err.Error()))
			}
			if _, err := out.Write(append(asciiJSON(encoded), '\n')); err != nil {
				return 1
			}
			if op == "quit" {
				if ok := response[1].v.(bool); !ok {
					return 1
				}
				return 0
			}
		}
		if readErr != nil {
			return 0
		}
	}
}

func handleLine(a *adapter, line string) (obj, string) {
	decoder := json.NewDecoder(strings.NewReader(line))
	decoder.UseNumber()
	var raw interface{}
	if err := decoder.Decode(&raw); err != nil {
		return errorResponse(nil, "bad_request", "not JSON: "+err.Error()), ""
	}
	if decoder.More() {
		return errorResponse(nil, "bad_request", "not JSON: trailing data after the object"), ""
	}
	m, _ := raw.(map[string]interface{})
	if m == nil {
		return errorResponse(nil, "bad_request", "a request must be a JSON object"), ""
	}
	req, err := decodeRequest(m)
	if err != nil {
		var id interface{}
		if i, ok := requestID(m); ok {
			id = i
		}
		return errorResponse(id, "bad_request", err.(*protocolError).detail), ""
	}
	res, err := a.call(req)
	if err != nil {
		if pe, ok := err.(*protocolError); ok {
			return errorResponse(req.id, pe.kind, pe.detail), req.op
		}
		return errorResponse(req.id, "internal", err.Error()), req.op
	}
	response := obj{{"id", req.id}, {"ok", true}, {"out", nonNil(res.out)}, {"events", nonNil(res.events)}}
	return append(response, res.fields...), req.op
}

func nonNil(list []obj) []obj {
	if list == nil {
		return []obj{}
	}
	return list
}
