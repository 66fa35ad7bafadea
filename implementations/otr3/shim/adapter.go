// coyim/otr3 (Debian's 2016 snapshot) behind the peer protocol: one account, one
// otr3.Conversation per correspondent.
//
// This only translates, the way CoyIM uses otr3: Send, Receive, QueryMessage, End,
// StartAuthenticate, ProvideAuthenticationSecret, UseExtraSymmetricKey, and the handlers for
// security, message, SMP and error-message events.  What the snapshot does not expose is read
// from the Conversation by reflection (status: msgState, version, instance tags, SMP state) or
// set the same way (the received-key handler, which has no setter in this snapshot).
// NOTES.md beside this file lists otr3's quirks.
//
// Invariants:
//   - handlers only record events; nothing calls back into otr3 from inside a handler (otr3
//     fails an SMP answer given from inside its own SMP event handler);
//   - a panic inside otr3 is reported as an `error` event with code x-crash and the
//     conversation for that correspondent is dropped, so the account stays usable;
//   - an error otr3 returns without having reported it through a handler becomes an event.
package main

import (
	"crypto/dsa"
	"encoding/hex"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"unsafe"

	"github.com/twstrike/otr3"
)

var features = []string{
	"v2", "v3", "instance_tags", "fragmentation", "smp", "smp_question", "symkey",
	"require_encryption", "whitespace_tag", "error_start_ake", "heartbeat", "deterministic",
}

// The texts otr3 puts after "?OTR Error: " (it sends none without an ErrorMessageHandler).
var errorTexts = map[otr3.ErrorCode]string{
	otr3.ErrorCodeEncryptionError:     "Error occurred encrypting message.",
	otr3.ErrorCodeMessageUnreadable:   "You transmitted an unreadable encrypted message.",
	otr3.ErrorCodeMessageMalformed:    "You transmitted a malformed data message.",
	otr3.ErrorCodeMessageNotInPrivate: "You sent encrypted data to a user who wasn't expecting it.",
}

// Message events as error codes; "" means not an error (heartbeats, a queued message sent).
var messageEventCodes = map[otr3.MessageEvent]string{
	otr3.MessageEventEncryptionRequired:              "held",
	otr3.MessageEventEncryptionError:                 "unsendable",
	otr3.MessageEventConnectionEnded:                 "not_private",
	otr3.MessageEventSetupError:                      "ignored",
	otr3.MessageEventMessageReflected:                "ignored",
	otr3.MessageEventMessageSent:                     "",
	otr3.MessageEventMessageResent:                   "x-resent",
	otr3.MessageEventReceivedMessageNotInPrivate:     "unreadable",
	otr3.MessageEventReceivedMessageUnreadable:       "unreadable",
	otr3.MessageEventReceivedMessageMalformed:        "malformed",
	otr3.MessageEventLogHeartbeatReceived:            "",
	otr3.MessageEventLogHeartbeatSent:                "",
	otr3.MessageEventReceivedMessageUnrecognized:     "ignored",
	otr3.MessageEventReceivedMessageForOtherInstance: "ignored",
}

var smpResults = map[otr3.SMPEvent]string{
	otr3.SMPEventError:        "error",
	otr3.SMPEventAbort:        "abort",
	otr3.SMPEventCheated:      "cheated",
	otr3.SMPEventAskForAnswer: "ask",
	otr3.SMPEventAskForSecret: "ask",
	otr3.SMPEventInProgress:   "in_progress",
	otr3.SMPEventSuccess:      "success",
	otr3.SMPEventFailure:      "failure",
}

var smpStates = map[string]string{
	"smpStateExpect1": "expect1", "smpStateWaitingForSecret": "expect1", "smpStateExpect2": "expect2",
	"smpStateExpect3": "expect3", "smpStateExpect4": "expect4",
}

var authStates = map[string]string{
	"authStateNone": "none", "authStateAwaitingDHKey": "awaiting_dhkey",
	"authStateAwaitingRevealSig": "awaiting_revealsig", "authStateAwaitingSig": "awaiting_sig",
}

type conversation struct {
	peer   string
	c      *otr3.Conversation
	secure bool // a GoneSecure was seen and no GoneInsecure since
}

// pending is what the request being handled has produced so far.
type pending struct {
	result
	peer        string
	shown       bool   // the received text was already reported (as unencrypted)
	errored     bool   // an error event was recorded
	unsupported string // the request turned out to be unsupported: why
}

type adapter struct {
	config  *initConfig
	key     *otr3.DSAPrivateKey
	rand    io.Reader
	convs   map[string]*conversation
	current *pending
}

func newAdapter() *adapter {
	return &adapter{convs: map[string]*conversation{}}
}

// call runs one validated request.
func (a *adapter) call(req *request) (*result, error) {
	switch req.op {
	case "hello":
		return &result{fields: obj{
			{"impl", "otr3"}, {"version", otr3Version}, {"protocol_versions", []int{2, 3}},
			{"features", features}, {"deterministic", true}, {"x-go", runtime.Version()},
		}}, nil
	case "init":
		return a.init(req.config)
	case "quit":
		a.convs = map[string]*conversation{}
		return &result{}, nil
	}
	if strings.HasPrefix(req.op, extension) {
		return nil, unsupported("otr3 has no extension op %s", req.op)
	}
	if a.config == nil {
		return nil, badRequest("init has not been called")
	}
	conv := a.conversation(req.peer)
	if req.op == "status" {
		return &result{fields: obj{{"status", a.status(conv)}}}, nil
	}
	return a.run(conv, func(c *otr3.Conversation) {
		switch req.op {
		case "send":
			a.sent(c.Send(otr3.ValidMessage(req.str["text"])))
		case "receive":
			a.receive(conv, req.str["wire"])
		case "query":
			a.out(conv.peer, []otr3.ValidMessage{c.QueryMessage()})
		case "end":
			a.sent(c.End())
		case "smp_start":
			question := ""
			if req.opt != nil {
				question = *req.opt
			}
			a.smp(c.StartAuthenticate(question, []byte(req.str["secret"])))
		case "smp_respond":
			a.smp(c.ProvideAuthenticationSecret([]byte(req.str["secret"])))
		case "smp_abort":
			a.current.unsupported = "otr3 (2016 snapshot) has no call that aborts SMP; only a received TLV 6 does"
		case "symkey":
			key, msgs, err := c.UseExtraSymmetricKey(req.use, req.data)
			if err != nil {
				a.event(errorEvent(conv.peer, "not_private", err.Error()))
				a.current.fields = obj{{"key", nil}}
				return
			}
			a.out(conv.peer, msgs)
			a.current.fields = obj{{"key", hex.EncodeToString(key)}}
		}
	})
}

func (a *adapter) init(config initConfig) (*result, error) {
	k := config.key
	public := dsa.PublicKey{Parameters: dsa.Parameters{P: k.p, Q: k.q, G: k.g}, Y: k.y}
	a.key = &otr3.DSAPrivateKey{
		DSAPublicKey: otr3.DSAPublicKey{PublicKey: public},
		PrivateKey:   dsa.PrivateKey{PublicKey: public, X: k.x},
	}
	a.rand = nil
	if config.seed != nil {
		a.rand = newSeededStream(config.seed)
	}
	a.config = &config
	a.convs = map[string]*conversation{}
	return &result{}, nil
}

func (a *adapter) conversation(peer string) *conversation {
	if conv, ok := a.convs[peer]; ok {
		return conv
	}
	c := &otr3.Conversation{Rand: a.rand}
	p := a.config.policy
	for _, flag := range []struct {
		on  bool
		set func()
	}{
		{p.allowV2, c.Policies.AllowV2}, {p.allowV3, c.Policies.AllowV3},
		{p.requireEncryption, c.Policies.RequireEncryption}, {p.sendWhitespaceTag, c.Policies.SendWhitespaceTag},
		{p.whitespaceStartAKE, c.Policies.WhitespaceStartAKE}, {p.errorStartAKE, c.Policies.ErrorStartAKE},
	} {
		if flag.on {
			flag.set()
		}
	}
	c.SetOurKeys([]otr3.PrivateKey{a.key})
	c.InitializeInstanceTag(a.config.instanceTag)
	size := a.config.maxMessageSize
	if size > 0xffff {
		size = 0xffff
	}
	c.SetFragmentSize(uint16(size))
	conv := &conversation{peer: peer, c: c}
	a.handle(conv)
	a.convs[peer] = conv
	return conv
}

func (a *adapter) handle(conv *conversation) {
	c, peer := conv.c, conv.peer
	c.SetSecurityEventHandler(securityHandler(func(e otr3.SecurityEvent) {
		switch e {
		case otr3.GoneSecure, otr3.StillSecure:
			a.event(obj{{"type", "secure"}, {"peer", peer}, {"version", versionOf(c)},
				{"ssid", ssidOf(c)}, {"peer_fingerprint", peerFingerprint(c)},
				{"refreshed", e == otr3.StillSecure || conv.secure}})
			conv.secure = true
		case otr3.GoneInsecure:
			if msgState(c) == "finished" {
				a.event(obj{{"type", "finished"}, {"peer", peer}})
			} else {
				a.event(obj{{"type", "insecure"}, {"peer", peer}})
			}
			conv.secure = false
		}
	}))
	c.SetMessageEventHandler(messageHandler(func(e otr3.MessageEvent, message []byte, err error) {
		switch e {
		case otr3.MessageEventReceivedMessageGeneralError:
			a.event(obj{{"type", "remote_error"}, {"peer", peer}, {"text", string(message)}})
			return
		case otr3.MessageEventReceivedMessageUnencrypted:
			a.event(obj{{"type", "message"}, {"from", peer}, {"text", string(message)}, {"encrypted", false}})
			a.event(errorEvent(peer, "unencrypted", "the message was received unencrypted"))
			a.current.shown = true
			return
		}
		code, known := messageEventCodes[e]
		if !known {
			code = "x-otr3-event"
		}
		if code == "" {
			return
		}
		detail := e.String()
		if err != nil {
			detail += ": " + err.Error()
		}
		a.event(errorEvent(peer, code, detail))
	}))
	c.SetSMPEventHandler(smpHandler(func(e otr3.SMPEvent, progress int, question string) {
		result, known := smpResults[e]
		if !known {
			return
		}
		var asked interface{}
		if e == otr3.SMPEventAskForAnswer {
			asked = question
		}
		a.event(obj{{"type", "smp"}, {"peer", peer}, {"result", result}, {"question", asked},
			{"x-progress", progress}})
	}))
	c.SetErrorMessageHandler(errorMessageHandler(func(code otr3.ErrorCode) []byte {
		return []byte(errorTexts[code])
	}))
	setReceivedKeyHandler(c, keyHandler(func(use uint32, usedata, key []byte) {
		a.event(obj{{"type", "symkey"}, {"peer", peer}, {"use", use}, {"usedata", hex.EncodeToString(usedata)},
			{"key", hex.EncodeToString(key)}})
	}))
}

// run calls into otr3 for one request and collects what it produced; a panic becomes x-crash.
func (a *adapter) run(conv *conversation, call func(*otr3.Conversation)) (res *result, err error) {
	a.current = &pending{peer: conv.peer}
	defer func() {
		if p := recover(); p != nil {
			stack := strings.Split(string(debug.Stack()), "\n")
			a.event(obj{{"type", "error"}, {"peer", conv.peer}, {"code", "x-crash"},
				{"detail", fmt.Sprint(p)}, {"x-raised-in", raisedIn(stack)}})
			delete(a.convs, conv.peer) // its state is unknown now
		}
		if a.current.unsupported != "" {
			res, err = nil, unsupported("%s", a.current.unsupported)
		} else {
			res = &a.current.result
		}
		a.current = nil
	}()
	call(conv.c)
	return
}

// raisedIn names the innermost otr3 frame of a panic's stack.
func raisedIn(stack []string) string {
	for i, line := range stack {
		if strings.Contains(line, "twstrike/otr3.") && i+1 < len(stack) {
			return strings.TrimSpace(line) + " " + strings.TrimSpace(stack[i+1])
		}
	}
	return ""
}

func (a *adapter) event(e obj) {
	if e[0].v == "error" {
		a.current.errored = true
	}
	a.current.events = append(a.current.events, e)
}

func (a *adapter) out(peer string, msgs []otr3.ValidMessage) {
	for _, m := range msgs {
		if len(m) > 0 {
			a.current.out = append(a.current.out, obj{{"to", peer}, {"wire", string(m)}})
		}
	}
}

// sent records what Send or End returned; an error no handler reported becomes an event.
func (a *adapter) sent(msgs []otr3.ValidMessage, err error) {
	peer := a.current.peer
	a.out(peer, msgs)
	if err != nil && !a.current.errored {
		a.event(errorEvent(peer, "unsendable", err.Error()))
	}
}

func (a *adapter) smp(msgs []otr3.ValidMessage, err error) {
	peer := a.current.peer
	a.out(peer, msgs)
	if err == nil {
		return
	}
	if strings.Contains(err.Error(), "without a secure conversation") {
		a.event(errorEvent(peer, "smp", err.Error()))
		return
	}
	a.event(obj{{"type", "smp"}, {"peer", peer}, {"result", "error"}, {"question", nil}, {"x-detail", err.Error()}})
}

func (a *adapter) receive(conv *conversation, wire string) {
	plain, toSend, err := conv.c.Receive(otr3.ValidMessage(wire))
	if len(plain) > 0 && !a.current.shown {
		// Receive returns decrypted and plain text alike: a text out of "?OTR:" or a fragment
		// came out of a Data Message.
		encrypted := strings.Contains(wire, "?OTR:") || strings.HasPrefix(wire, "?OTR|") ||
			strings.HasPrefix(wire, "?OTR,")
		a.event(obj{{"type", "message"}, {"from", conv.peer}, {"text", string(plain)}, {"encrypted", encrypted}})
	}
	a.out(conv.peer, toSend)
	if err != nil && !a.current.errored {
		a.event(errorEvent(conv.peer, receiveErrorCode(err), err.Error()))
	}
}

func receiveErrorCode(err error) string {
	switch msg := err.Error(); {
	case strings.Contains(msg, "invalid OTR message"), strings.Contains(msg, "invalid OTR fragment"):
		return "malformed"
	case strings.Contains(msg, "message not in private"):
		return "unreadable"
	default:
		return "ignored"
	}
}

func errorEvent(peer, code, detail string) obj {
	return obj{{"type", "error"}, {"peer", peer}, {"code", code}, {"detail", detail}}
}

// ------------------------------------------------------------------ status by reflection

func field(c *otr3.Conversation, name string) reflect.Value {
	return reflect.ValueOf(c).Elem().FieldByName(name)
}

func typeName(v reflect.Value) string {
	if !v.IsValid() || (v.Kind() == reflect.Interface && v.IsNil()) {
		return ""
	}
	if v.Kind() == reflect.Interface {
		v = v.Elem()
	}
	return v.Type().Name()
}

func msgState(c *otr3.Conversation) string {
	return [...]string{"plaintext", "encrypted", "finished"}[field(c, "msgState").Int()]
}

func versionOf(c *otr3.Conversation) interface{} {
	switch typeName(field(c, "version")) {
	case "otrV2":
		return 2
	case "otrV3":
		return 3
	}
	return nil
}

func ssidOf(c *otr3.Conversation) string {
	ssid := c.GetSSID()
	return hex.EncodeToString(ssid[:])
}

func peerFingerprint(c *otr3.Conversation) interface{} {
	key := c.GetTheirKey()
	if key == nil || reflect.ValueOf(key).IsNil() {
		return nil
	}
	fp := key.Fingerprint()
	if fp == nil {
		return nil
	}
	return hex.EncodeToString(fp)
}

func (a *adapter) status(conv *conversation) obj {
	c := conv.c
	state := msgState(c)
	var version, ssid, theirTag interface{}
	if state == "encrypted" {
		version, ssid = versionOf(c), ssidOf(c)
	}
	if tag := field(c, "theirInstanceTag").Uint(); tag != 0 {
		theirTag = tag
	}
	smp := smpStates[typeName(field(c, "smp").FieldByName("state"))]
	if smp == "" {
		smp = "expect1"
	}
	auth := "none"
	if ake := field(c, "ake"); !ake.IsNil() {
		if name := authStates[typeName(ake.Elem().FieldByName("state"))]; name != "" {
			auth = name
		}
	}
	return obj{
		{"msgstate", state}, {"version", version}, {"ssid", ssid},
		{"fingerprint", hex.EncodeToString(a.key.PublicKey().Fingerprint())},
		{"peer_fingerprint", peerFingerprint(c)},
		{"instance_tag", field(c, "ourInstanceTag").Uint()}, {"peer_instance_tag", theirTag},
		{"smp", smp}, {"x-authstate", auth},
	}
}

// setReceivedKeyHandler sets the Conversation's received-key handler, which the 2016 snapshot
// calls on TLV 8 but offers no setter for (upstream added SetReceivedKeyHandler later).
func setReceivedKeyHandler(c *otr3.Conversation, h otr3.ReceivedKeyHandler) {
	f := field(c, "receivedKeyHandler")
	reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Set(reflect.ValueOf(h))
}

// ---------------------------------------------------------------------- handler types

type securityHandler func(otr3.SecurityEvent)

func (h securityHandler) HandleSecurityEvent(e otr3.SecurityEvent) { h(e) }

type messageHandler func(otr3.MessageEvent, []byte, error)

func (h messageHandler) HandleMessageEvent(e otr3.MessageEvent, m []byte, err error, _ ...interface{}) {
	h(e, m, err)
}

type smpHandler func(otr3.SMPEvent, int, string)

func (h smpHandler) HandleSMPEvent(e otr3.SMPEvent, progress int, question string) {
	h(e, progress, question)
}

type errorMessageHandler func(otr3.ErrorCode) []byte

func (h errorMessageHandler) HandleErrorMessage(code otr3.ErrorCode) []byte { return h(code) }

type keyHandler func(uint32, []byte, []byte)

func (h keyHandler) ReceivedSymmetricKey(use uint32, usedata, key []byte) { h(use, usedata, key) }
