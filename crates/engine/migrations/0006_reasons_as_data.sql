-- Reasons kept as data, not English sentences: a recipient's reason and a
-- campaign's pause reason are JSON (crates/engine/src/outcome.rs:
-- RecipientReason, PauseReason, tagged by "kind"), so each front end says
-- them in its own language. The text earlier versions wrote is moved into
-- that form; what no pattern here reads stays as {"kind": "legacy", "text"},
-- shown as it was written.

UPDATE recipients SET reason = CASE
    WHEN reason = 'invalid address: the address is empty'
        THEN json_object('kind', 'invalid_address', 'problem', 'empty')
    WHEN reason = 'invalid address: the address contains spaces'
        THEN json_object('kind', 'invalid_address', 'problem', 'spaces')
    WHEN reason = 'invalid address: the address has no @'
        THEN json_object('kind', 'invalid_address', 'problem', 'missing_at')
    WHEN reason = 'invalid address: the part before the @ is not valid'
        THEN json_object('kind', 'invalid_address', 'problem', 'bad_local_part')
    WHEN reason = 'invalid address: the domain after the @ is not valid'
        THEN json_object('kind', 'invalid_address', 'problem', 'bad_domain')
    WHEN reason = 'invalid address: the address is longer than 254 characters'
        THEN json_object('kind', 'invalid_address', 'problem', 'too_long')
    WHEN reason = 'invalid address: the row has more values than the header has columns'
        THEN json_object('kind', 'invalid_address', 'problem', 'too_many_values')
    WHEN reason GLOB 'duplicate of row [0-9]*'
        THEN json_object('kind', 'duplicate', 'first_row', CAST(substr(reason, 18) AS INTEGER))
    WHEN reason = 'on the suppression list'
        THEN json_object('kind', 'suppressed')
    WHEN reason = 'the campaign was stopped'
        THEN json_object('kind', 'stopped')
    WHEN reason = 'marked as sent by you'
        THEN json_object('kind', 'marked_sent')
    WHEN reason = 'in flight when Mailroom stopped: the server may or may not have accepted it'
        THEN json_object('kind', 'in_flight_at_stop')
    WHEN reason GLOB 'sent; an earlier attempt got no answer after its content*'
        THEN json_object('kind', 'sent_maybe_twice')
    WHEN reason GLOB 'the message could not be made for this recipient: *'
        THEN json_object('kind', 'unrenderable', 'detail', substr(reason, 51))
    -- A server's refusal as the client wrote it: "rcpt: 550 5.1.1 words".
    WHEN reason GLOB '[a-z]*: [2-5][0-9][0-9] *'
        AND substr(reason, 1, instr(reason, ':') - 1) IN ('greeting', 'ehlo', 'auth', 'mail', 'rcpt', 'data', 'quit')
        THEN json_object(
            'kind', 'smtp',
            'failure', json_object(
                'stage', substr(reason, 1, instr(reason, ':') - 1),
                'problem', CASE WHEN CAST(substr(reason, instr(reason, ':') + 2, 3) AS INTEGER) = 552
                                THEN 'message_too_big' ELSE 'rejected' END,
                'code', CAST(substr(reason, instr(reason, ':') + 2, 3) AS INTEGER),
                'enhanced_code', NULL,
                'text', substr(reason, instr(reason, ':') + 6),
                'after_content', json('false')),
            'unanswered_before', json('false'))
    ELSE json_object('kind', 'legacy', 'text', reason)
END
WHERE reason IS NOT NULL AND NOT json_valid(reason);

UPDATE campaigns SET pause_reason = CASE
    WHEN pause_reason = 'paused by you'
        THEN json_object('kind', 'by_you')
    WHEN pause_reason GLOB '[0-9]* uncertain recipients to send again*'
        THEN json_object('kind', 'uncertain_to_resend', 'count', CAST(pause_reason AS INTEGER))
    WHEN pause_reason GLOB '[0-9]* failed recipients to send again'
        THEN json_object('kind', 'failed_to_resend', 'count', CAST(pause_reason AS INTEGER))
    WHEN pause_reason GLOB '[0-9]* recipients are uncertain:*'
        THEN json_object('kind', 'uncertain', 'count', CAST(pause_reason AS INTEGER))
    WHEN pause_reason GLOB '[0-9]* recipients are still waiting*'
        THEN json_object('kind', 'still_waiting', 'count', CAST(pause_reason AS INTEGER))
    WHEN pause_reason GLOB 'interrupted: no Mailroom is sending it*'
        THEN json_object('kind', 'interrupted')
    ELSE json_object('kind', 'legacy', 'text', pause_reason)
END
WHERE pause_reason IS NOT NULL AND NOT json_valid(pause_reason);
