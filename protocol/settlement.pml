/*
 * settlement.pml: the kiosk <-> bank settlement protocol (deposit; withdrawal hold -> dispense ->
 * post/void; the kiosk journal and its recovery; the bank's idempotent txn records and its
 * hold-expiry sweeper) as a Promela model for the SPIN model checker (issue 15, item 5).
 * test/protocol/settlement-model.test.ts checks it in CI through test/torture/spin.ts. By hand:
 *
 *   spin -a protocol/settlement.pml && gcc -DSAFETY -DNOCLAIM -o pan pan.c && ./pan -m100000
 *   spin -a protocol/settlement.pml && gcc -o pan pan.c && ./pan -a -f -m100000    (P4, liveness)
 *   spin -DBUG_DEPOSIT_NEW_ID -a protocol/settlement.pml && gcc -DSAFETY -DNOCLAIM -o pan pan.c \
 *     && ./pan -i -m100000 && spin -DBUG_DEPOSIT_NEW_ID -t protocol/settlement.pml   (its story)
 *
 * WHAT IS MODELLED. One account, one kiosk, NTXN customers one after the other, each making
 * one deposit (1 note) or one withdrawal (2 notes); SPIN tries every choice. Amounts are notes.
 *
 * Kiosk (kiosk/teller.ts, kiosk/recovery.ts, kiosk/journal.ts, kiosk/controller.ts). The journal
 * is durable; an append is one step that happened or did not (a torn last line is dropped at
 * open). Everything else (which step it is at, the answers it has, its bank session) is
 * volatile and lost in a crash.
 *   deposit    journal deposit.sent, ask, journal deposit.result. INTENDED RULE (what this
 *              model checks): a deposit whose answer is lost is asked again under the SAME txn
 *              id until an answer comes, by the teller and, after a restart, by recovery.
 *              The code does so since issue 17 (teller.ts askDeposit, recovery.ts 'resolve',
 *              the bank's deposit.resolve [ATM-4.15]). Before, recovery planned 'none' for a
 *              deposit without a result and nobody asked again once the customer was gone;
 *              -DTODAY_DEPOSIT_UNKNOWN keeps that old code as a planted bug, and SPIN shows the trail.
 *   withdrawal journal hold.sent, withdraw.hold, journal hold.result, journal dispense.started,
 *              the notes leave (0, 1 or 2: a jam, a partial dispense, all), journal
 *              dispense.result, withdraw.post of what came out (withdraw.void for none),
 *              journal settled. No answer to the hold: the session is gone and the customer
 *              with it (flow.ts drops the txn), recovery voids it.
 *   recovery   planRecovery: post what dispense.result says came out; void when it says 0, when
 *              the dispense was interrupted (dispense.started, no result), when the hold was
 *              placed but nothing dispensed, or when the hold's answer never came; nothing for
 *              a refused hold. It runs at every start before the first customer, after each
 *              customer (the logout effect) and later again (reconnects) while anything is
 *              open. Each attempt is one request; no answer leaves the item open. (In the code
 *              the logout's settle may overlap the next customer's requests for other txns, one
 *              at a time on the link; the model runs it first.)
 * Bank (bank/handlers-money.ts, bank/holds.ts, bank/commit.ts). The ledger is durable and
 *   changes by whole batches: decide and commit are one step, and the answer goes out only
 *   after it (group commit: nothing is answered before it is durable). A handler holds the
 *   txn's and the account's locks from read to answer, so one request is one atomic step, with
 *   the crashes it may suffer inside it. A txn id already in the ledger gets its first answer
 *   again and moves nothing (answerRepeat); post and void follow withHold's rules; a post
 *   after a void is refused and audited 'post after void: reconcile'. The sweeper voids any
 *   open hold at any moment: time is not modelled, so a hold may expire as early as an
 *   adversary likes (P1's first exception below is that case).
 * Network: two FIFO channels, NSLOT messages each, and one slot for a request that travels
 *   out of order (one at a time). A request may be lost, delayed (it arrives later or earlier than others,
 *   also after the kiosk gave up on it), or delivered and also copied out of order. An answer
 *   may be lost, or come after the kiosk gave up waiting (LATE_ANSWERS). Every request carries
 *   the kiosk's session: after a crash or a request without an answer (REQUEST_TIMEOUT closes
 *   the session) the kiosk has a new one, and the bank's answers to the old one are lost. The
 *   record layer rejects replayed frames, so copies come from requests outliving their
 *   session; copies of anything, in any order, over-approximate that.
 * Crashes: the kiosk may crash after any step (KCRASH; a crash between two of its own
 *   volatile steps is the same as one after the step before them): it loses its volatile state
 *   and session and restarts with recovery. The bank may crash after reading a request (as if
 *   never read) and after its batch (durable, never answered): it loses the request, its
 *   sessions and every unread request, and keeps the ledger.
 *
 * BOUNDS (#defines, each overridable with spin -DNAME=value): NTXN = 2 customers; FAULTS = 2
 * faults in a run, of any kinds, and of each kind at most KIOSK_CRASHES = 2, BANK_CRASHES = 2,
 * LOSSES = 2 (requests and answers), DUPLICATES = 2 (delayed or copied requests),
 * LATE_ANSWERS = 2; NSLOT = FAULTS + 2; the sweeper is not a fault and may act at any time. Fixed:
 * BALANCE0 = 2 notes, deposits of 1 note, withdrawals of 2 notes.
 *
 * PROPERTIES.
 *   P1 never cash out without a debit: at the end, for every withdrawal, notes that left the
 *      machine == notes debited, except the two cases the design hands to an operator with a
 *      durable record: the sweeper voided the hold before the post came (the bank's audit says
 *      'post after void: reconcile'), or a kiosk crash interrupted the dispense (the journal
 *      ends with dispense.started and no dispense.result: the cassettes are counted).
 *   P2 never a debit without cash: at every debit, notes debited <= notes that left (assert).
 *   P3 never a deposit credited twice: at every credit (assert); and at the end every deposit
 *      the kiosk journaled is credited exactly once.
 *   P4 never a hold stuck forever: at the end no hold is open (end-state assertion); and the
 *      LTL claim no_stuck_hold, [] (held > 0 -> <> held == 0), checked with -a -f (weak
 *      fairness). Every run here is finite (all faults are bounded), so the two agree; the
 *      claim states the property as what it is.
 *   Also at every batch: the account stays valid (held <= balance, as ledger.ts asserts); at
 *   the end: the ledger adds up and the kiosk has finished (nothing stuck). The end is the
 *   state where nothing else can move (SPIN's timeout), checked by the Check process.
 *
 * VARIANTS (spin -DNAME). Planted protocol bugs; SPIN must find each, with a trail:
 *   BUG_DEPOSIT_NEW_ID        a deposit whose answer was lost is asked again under a NEW id (P3)
 *   BUG_POST_WITHOUT_HOLD     withdraw.post of a voided hold debits anyway, clamped at 0, as
 *                             protocol/faults.ts plants it (account validity, or P1)
 *   BUG_DISPENSE_BEFORE_HOLD  the kiosk pays out with the hold, before its answer (P1)
 *   BUG_ANSWER_BEFORE_COMMIT  the bank answers before its batch is durable (P3 or P1)
 *   BUG_DISPENSE_UNJOURNALED  the kiosk does not journal dispense.started (P1)
 *   BUG_NO_SWEEPER            no hold-expiry sweeper (P4)
 * Today's code where it differs from the intended protocol (SPIN finds these too):
 *   TODAY_DEPOSIT_UNKNOWN     see deposit above (P3: a journaled deposit never credited)
 *   TODAY_RECONNECT_SETTLE    the code before this model found it: controller.ts ran
 *                             settleUnfinished on every link 'online', also while the teller was
 *                             dispensing: recovery read dispense.started without a result as an
 *                             interrupted dispense and voided the hold the notes were leaving
 *                             against (P1). Fixed (kiosk/teller.ts: recovery skips the teller's
 *                             active transactions); kept as a planted bug. Needs no crash, so
 *                             this variant has none (the Reconnect process does not model one).
 * Vacuity checks: NO_EXPIRY_EXCEPTION and NO_INTERRUPTED_EXCEPTION each drop one of P1's
 * exceptions; SPIN must then find a violation, which shows that exception is reachable.
 *
 * Labels (k_* kiosk, b_* bank) and the step comments are what the code's "// model:" name.
 */

/* ------------------------------------------------------------------ bounds */
#ifndef NTXN
#define NTXN 2
#endif
#ifdef TODAY_RECONNECT_SETTLE
#undef KIOSK_CRASHES
#define KIOSK_CRASHES 0
#endif
#ifndef KIOSK_CRASHES
#define KIOSK_CRASHES 2
#endif
#ifndef BANK_CRASHES
#define BANK_CRASHES 2
#endif
#ifndef LOSSES
#define LOSSES 2
#endif
#ifndef DUPLICATES
#define DUPLICATES 2
#endif
#ifndef LATE_ANSWERS
#define LATE_ANSWERS 2
#endif
#ifndef RECONNECTS
#define RECONNECTS 1
#endif
#ifndef FAULTS
#define FAULTS 2
#endif
#ifndef NSLOT
#define NSLOT (FAULTS + 2)  /* answers to copies and stale answers wait there for the kiosk to drop them */
#endif
#define BALANCE0 2
#define DEPOSIT_AMT 1
#define WITHDRAW_AMT 2     /* k_dispense spells out its 0, 1 and 2 notes */
/* txn ids 1..NTXN, one per customer; NTXN+1..2*NTXN only for BUG_DEPOSIT_NEW_ID's new ids */
#define NIDS (2 * NTXN + 1)
#define CUSTOMER(id) (((id) - 1) % NTXN)

mtype = { DEPOSIT, HOLD, POST, VOID };                                           /* requests */
mtype = { OK, DECLINED, UNKNOWN_TXN, DUPLICATE_TXN, INVALID_AMOUNT, NO_ANSWER }; /* answers */

/* op, txn id, amount (withdraw.post: dispensed), the kiosk's session it was sent on */
chan req = [NSLOT] of { mtype, byte, byte, bit };
chan copies = [1] of { mtype, byte, byte, bit };  /* a request (or a copy of one) out of order */
chan resp = [NSLOT] of { mtype, byte, mtype };    /* op, txn id, code */

/* ------------------------------------------------------------- bank ledger (durable) */
#define R_NONE 0
#define R_DEPOSITED 1
#define R_DECLINED 2
#define R_HELD 3
#define R_POSTED 4
#define R_VOIDED 5
#define KEEP 255
byte balance = BALANCE0;
byte held;                 /* account.heldCents */
byte rec[NIDS];            /* the txn record's state */
byte rec_amt[NIDS];        /* its amountCents */
byte rec_posted[NIDS];     /* its postedCents */
bool reconcile[NIDS];      /* audit: 'post after void: reconcile' */

/* ---------------------------------------------------------- kiosk journal (durable) */
#define K_DEP 1
#define K_WD 2
#define J_NONE 0
#define J_SENT 1           /* deposit.sent / hold.sent */
#define J_RESULT_OK 2      /* deposit.result / hold.result 'ok' */
#define J_RESULT_NO 3      /* deposit.result / hold.result refused */
#define J_DSTART 4         /* dispense.started */
#define J_DRESULT 5        /* dispense.result (j_disp notes) */
#define S_NONE 0
#define S_POSTED 1
#define S_VOIDED 2
#define S_REFUSED 3
byte j_kind[NIDS];
byte j_stage[NIDS];        /* the item's last event before 'settled' */
byte j_disp[NIDS];
byte j_settled[NIDS];

/* What recovery still has to settle: recovery.ts unfinishedOf, less the items planned 'none'. */
#ifdef TODAY_DEPOSIT_UNKNOWN
#define DEPOSIT_RETRIED 0
#else
#define DEPOSIT_RETRIED 1
#endif
#define OPEN_ITEM(i) (j_stage[i] != J_NONE && j_settled[i] == S_NONE && j_stage[i] != J_RESULT_NO \
                      && !(j_kind[i] == K_DEP && (j_stage[i] == J_RESULT_OK || !DEPOSIT_RETRIED)))

/* ------------------------------------------------------- ghosts: what really happened */
byte kind[NTXN];           /* what customer t chose */
byte started;              /* customers so far: the world's count, so it survives a kiosk crash */
byte cash[NTXN];           /* notes that physically left the machine for customer t */
byte debited[NTXN];        /* notes the bank took from the balance for customer t */
byte credits[NTXN];        /* times customer t's deposit was credited */
bool swept[NIDS];          /* the sweeper voided this hold */
bool kiosk_done;

/* ------------------------------------------------------------------ faults */
byte faults;               /* all kinds together, at most FAULTS */
byte kcrashes;
byte bcrashes;
byte losses;
byte dups;
byte lates;
byte reconnects;
bool reconnect_now;        /* TODAY_RECONNECT_SETTLE: the link came back; settleUnfinished runs */
bool link_busy;            /* the link carries one request at a time (KioskLink's queue) */
bit session;               /* the kiosk's bank session: a new one after a crash or a lost answer */

/* A new session: the old one's answers never reach it. */
#define NEW_SESSION session = 1 - session; do :: len(resp) > 0 -> resp?_, _, _ :: else -> break od
#define MAY(n, max) (n < max && faults < FAULTS)
#define FAULT(n) n++; faults++
/* A crash may follow any step; each step is atomic with the crash that may follow it, which is
   the same as a crash before the next step (the steps between are the kiosk's own volatile ones). */
#define KCRASH \
  if \
  :: true \
  :: MAY(kcrashes, KIOSK_CRASHES) -> FAULT(kcrashes); printf("KIOSK CRASH\n"); goto crashed \
  fi
/* The bank process dies, and with it its sessions and the bytes it had not read yet. */
#define BCRASH \
  if \
  :: true \
  :: MAY(bcrashes, BANK_CRASHES) -> FAULT(bcrashes); printf("BANK CRASH\n"); \
     do \
     :: len(req) > 0 -> req?_, _, _, _ \
     :: len(copies) > 0 -> copies?_, _, _, _ \
     :: else -> break \
     od; \
     BANK_CLEAR; goto end_idle \
  fi

/* The account invariant ledger.ts asserts on every batch (assertAccountValid). */
#define ACCOUNT_VALID \
  if \
  :: held > balance -> printf("VIOLATED account: held %d > balance %d\n", held, balance); assert(false) \
  :: else \
  fi

#ifndef BUG_NO_SWEEPER
/* holds.ts sweepExpiredHolds: any open hold may have expired (time is not modelled). Declared
   first, so that SPIN's depth-first search tries it last and trails show it only when needed. */
#define SWEEP(i) :: d_step { rec[i] == R_HELD -> held = held - rec_amt[i]; rec[i] = R_VOIDED; swept[i] = true; ACCOUNT_VALID; \
                             printf("sweeper: hold txn %d expired, voided\n", i) }
active proctype Sweeper() {
end_sweep:
  do
  SWEEP(1)
#if NTXN >= 2
  SWEEP(2)
#endif
#if NTXN >= 3
  SWEEP(3)
#endif
  od
}
#endif

/* ============================================================================ kiosk */

/* The journal record an answer makes (teller.ts); no answer makes none: the item stays open. */
#define JOURNAL_ANSWER(i) \
  if \
  :: code == NO_ANSWER -> skip \
  :: (op == DEPOSIT || op == HOLD) && code == OK -> j_stage[i] = J_RESULT_OK \
  :: (op == DEPOSIT || op == HOLD) && code != OK -> j_stage[i] = J_RESULT_NO \
  :: op == POST && code == OK -> j_settled[i] = S_POSTED \
  :: op == VOID && code == OK -> j_settled[i] = S_VOIDED \
  :: else -> j_settled[i] = S_REFUSED \
  fi; \
  printf("kiosk journal: answer to %e txn %d: %e\n", op, i, code)

/* link.request, first half (inside an atomic step): the request goes out. The network may lose
   it, send it out of order (the bank may read it after, or before, anything sent meanwhile, and
   after the kiosk gave up on it), or deliver it and a copy of it out of order. */
#define SEND(op, id, amt) \
  !link_busy -> link_busy = true; \
  printf("kiosk -> bank: %e txn %d amount %d\n", op, id, amt); \
  if \
  :: req!op, id, amt, session \
  :: MAY(losses, LOSSES) -> FAULT(losses); printf("NET: that request is lost\n") \
  :: MAY(dups, DUPLICATES) && len(copies) == 0 -> FAULT(dups); copies!op, id, amt, session; \
     printf("NET: that request is delayed: it arrives out of order\n") \
  :: MAY(dups, DUPLICATES) && len(copies) == 0 -> FAULT(dups); req!op, id, amt, session; copies!op, id, amt, session; \
     printf("NET: that request arrives, and a copy of it out of order\n") \
  fi; \
  KCRASH

/* link.request, second half: the answer (journaled as teller.ts does), or NO_ANSWER: the
   request timed out (REQUEST_TIMEOUT: the client closes the session) or the session was gone
   (CLOSED); the link opens a new session. LATE_ANSWERS: the timeout fires although the answer
   is on its way. */
inline await(op, id, code) {
  do
  :: atomic {
       resp?rop, rid, rcode ->
       if
       :: rop == op && rid == id ->
          code = rcode; rop = 0; rid = 0; rcode = 0; link_busy = false;
          KCRASH;                     /* before the answer is journaled */
          JOURNAL_ANSWER(id);
          KCRASH;
          break
       :: else -> rop = 0; rid = 0; rcode = 0   /* a copy's answer: not the one awaited */
       fi
     }
  :: atomic {
       len(req) == 0 && len(resp) == 0 -> code = NO_ANSWER; NEW_SESSION; link_busy = false;
       printf("kiosk: no answer to %e txn %d (new session)\n", op, id);
       KCRASH; break
     }
  :: atomic {
       MAY(lates, LATE_ANSWERS) -> FAULT(lates); code = NO_ANSWER; NEW_SESSION; link_busy = false;
       printf("NET: the answer to %e txn %d is late; the kiosk gives up (new session)\n", op, id);
       KCRASH; break
     }
  od
}

/* settleUnfinished (teller.ts) by planRecovery's rules (recovery.ts): one attempt for every open
   journal item, in journal order. */
inline recover_all() {
  ri = 0;
  do
  :: atomic {
       ri++;
       do
       :: ri < NIDS && !OPEN_ITEM(ri) -> ri++
       :: else -> break
       od;
       if
       :: ri >= NIDS -> ri = 0; break
       :: ri < NIDS && j_kind[ri] == K_DEP -> op = DEPOSIT; amt = DEPOSIT_AMT /* intended: same id until answered */
       :: ri < NIDS && j_kind[ri] == K_WD && j_stage[ri] == J_DRESULT && j_disp[ri] > 0 -> op = POST; amt = j_disp[ri]
       :: ri < NIDS && j_kind[ri] == K_WD && !(j_stage[ri] == J_DRESULT && j_disp[ri] > 0) -> op = VOID; amt = 0
          /* DISPENSED_NOTHING, DISPENSE_INTERRUPTED, NOT_DISPENSED, HOLD_UNKNOWN */
       fi;
k_recover_ask:
       printf("kiosk recovery: %e txn %d\n", op, ri);
       SEND(op, ri, amt)
     };
     await(op, ri, code);
k_recover_settled:
     atomic { op = 0; amt = 0; code = 0 }
  od
}

#define KIOSK_LOCALS \
  byte t, id, d, amt, rid, ri; \
  mtype op, code, rop, rcode

active proctype Kiosk() {
  KIOSK_LOCALS;
  bool open;
  goto k_start;
crashed:                              /* power cut: the journal stays, everything else goes */
  atomic {
    NEW_SESSION;
    t = 0; id = 0; d = 0; amt = 0; rid = 0; ri = 0; op = 0; code = 0; rop = 0; rcode = 0;
    open = false; link_busy = false
  };
k_start:
  do
  :: true ->
k_recover:                            /* at start, after each customer, on later reconnects */
     recover_all();
     if
     :: started < NTXN ->
        if
        :: atomic {
             t = started; kind[t] = K_DEP; started++; id = t + 1;
             /* ---------------------------------------------------------------- deposit */
k_deposit_sent:
             j_kind[id] = K_DEP; j_stage[id] = J_SENT;
             printf("customer %d deposits 1 note; kiosk journal: deposit.sent txn %d\n", t, id);
             KCRASH
           };
           do
           :: true ->
k_deposit_ask:
              atomic { op = DEPOSIT; SEND(DEPOSIT, id, DEPOSIT_AMT) };
k_deposit_result:
              await(DEPOSIT, id, code);
              if
              :: code != NO_ANSWER -> break
              :: else ->
#if defined(BUG_DEPOSIT_NEW_ID)
                 if                   /* BUG: the retry goes out under a new id */
                 :: id <= NTXN ->
                    atomic {
                      id = id + NTXN; j_kind[id] = K_DEP; j_stage[id] = J_SENT;
                      printf("BUG: kiosk journal: deposit.sent under a new txn %d\n", id);
                      KCRASH
                    }
                 :: else
                 fi
#elif defined(TODAY_DEPOSIT_UNKNOWN)
                 if                   /* today: the customer may confirm again (same id), or leave */
                 :: skip
                 :: goto k_customer_done
                 fi
#else
                 skip                 /* intended: the same id again until an answer comes */
#endif
              fi
           od
        :: atomic {
             t = started; kind[t] = K_WD; started++; id = t + 1;
             /* ------------------------------------------------------------- withdrawal */
k_hold_sent:
             j_kind[id] = K_WD; j_stage[id] = J_SENT;
             printf("customer %d withdraws 2 notes; kiosk journal: hold.sent txn %d\n", t, id);
             KCRASH
           };
#ifdef BUG_DISPENSE_BEFORE_HOLD
           atomic {                   /* BUG: the notes go out with the hold, before its answer */
             j_stage[id] = J_DSTART;
             if
             :: cash[t] = 0
             :: cash[t] = 1
             :: cash[t] = 2
             fi;
             d = cash[t];
             printf("BUG: dispenser pays %d note(s) before the hold's answer\n", d);
             KCRASH
           };
#endif
k_hold_ask:
           atomic { op = HOLD; SEND(HOLD, id, WITHDRAW_AMT) };
k_hold_result:
           await(HOLD, id, code);
           if
           :: code != OK -> goto k_customer_done  /* refused; or no answer: recovery voids it */
           :: else
           fi;
#ifndef BUG_DISPENSE_BEFORE_HOLD
#ifndef BUG_DISPENSE_UNJOURNALED
k_dispense_started:
           atomic { j_stage[id] = J_DSTART; printf("kiosk journal: dispense.started txn %d\n", id); KCRASH };
#endif
#ifdef TODAY_RECONNECT_SETTLE
           if                         /* the link drops and comes back while the dispenser works */
           :: reconnects < RECONNECTS -> reconnects++; reconnect_now = true;
              printf("link: dropped and back while dispensing; settleUnfinished starts\n")
           :: true
           fi;
#endif
k_dispense:
           atomic {                   /* the notes leave the machine: none (jam), some or all */
             if
             :: cash[t] = 0
             :: cash[t] = 1
             :: cash[t] = 2
             fi;
             d = cash[t];
             printf("dispenser: %d note(s) out for txn %d\n", d, id);
             KCRASH
           };
#endif
k_dispense_result:
           atomic {
             j_stage[id] = J_DRESULT; j_disp[id] = d;
             printf("kiosk journal: dispense.result txn %d: %d note(s)\n", id, d);
             KCRASH;
             if
             :: d > 0 -> op = POST; amt = d
             :: else -> op = VOID; amt = 0
             fi;
k_settle:
             SEND(op, id, amt)
           };
k_settled:                            /* no answer: SETTLE_PENDING; recovery posts it later */
           await(op, id, code)
        fi;
k_customer_done:
        atomic { t = 0; id = 0; d = 0; amt = 0; op = 0; code = 0 }
     :: else ->
        atomic {
          open = false;
          ri = 1;
          do
          :: ri < NIDS -> open = open || OPEN_ITEM(ri); ri++
          :: else -> ri = 0; break
          od;
          if
          :: open -> open = false     /* a later attempt (a reconnect) settles it */
          :: else -> break
          fi
        }
     fi
  od;
  kiosk_done = true
}

#ifdef TODAY_RECONNECT_SETTLE
/* controller.ts start(): on link 'online', settleUnfinished, concurrently with the teller. */
active proctype Reconnect() {
  KIOSK_LOCALS;
end_reconnect:
  do
  :: atomic { reconnect_now -> reconnect_now = false };
     recover_all()
  od;
crashed:                              /* unreachable: this variant has no kiosk crashes */
  skip
}
#endif

/* ============================================================================= bank */

/* The handler's decision (handlers-money.ts, holds.ts) as the batch it would commit. */
inline decide() {
  t = CUSTOMER(id);
  nrec = KEEP;
  if
  :: op == DEPOSIT ->
     if
     :: rec[id] == R_NONE ->          /* b_deposit: credit, in one batch with the txn record */
        code = OK; nrec = R_DEPOSITED; namt = amt; dbal_add = amt; ncredit = true
     :: rec[id] == R_DEPOSITED && rec_amt[id] == amt -> code = OK /* b_repeat: the first answer */
     :: else -> code = DUPLICATE_TXN
     fi
  :: op == HOLD ->
     if
     :: rec[id] == R_NONE && balance - held >= amt ->  /* b_hold */
        code = OK; nrec = R_HELD; namt = amt; dheld_add = amt
     :: rec[id] == R_NONE && balance - held < amt ->   /* b_hold: the decline is remembered */
        code = DECLINED; nrec = R_DECLINED; namt = amt
     :: rec[id] == R_DECLINED -> code = DECLINED       /* b_repeat */
     :: rec[id] == R_HELD || rec[id] == R_POSTED || rec[id] == R_VOIDED -> code = OK /* b_repeat */
     :: rec[id] == R_DEPOSITED -> code = DUPLICATE_TXN
     fi
  :: op == POST ->
     if
     :: rec[id] == R_POSTED && rec_posted[id] == amt -> code = OK /* b_post: the first answer */
     :: rec[id] == R_POSTED && rec_posted[id] != amt -> code = DUPLICATE_TXN
     :: rec[id] == R_VOIDED ->
#ifdef BUG_POST_WITHOUT_HOLD
        /* BUG (protocol/faults.ts post-without-hold): debits a hold that is gone, clamped at 0 */
        code = OK; nrec = R_POSTED; nposted = amt;
        if
        :: balance >= amt -> dbal_sub = amt
        :: else -> dbal_sub = balance
        fi;
        printf("BUG: post of voided hold txn %d debits %d of %d\n", id, dbal_sub, amt)
#else
        code = UNKNOWN_TXN; nreconcile = true  /* b_post_after_void: audited for reconciliation */
#endif
     :: rec[id] == R_HELD && amt <= rec_amt[id] ->    /* b_post: debit what came out, release the rest */
        code = OK; nrec = R_POSTED; nposted = amt; dbal_sub = amt; dheld_sub = rec_amt[id]
     :: rec[id] == R_HELD && amt > rec_amt[id] -> code = INVALID_AMOUNT
     :: else -> code = UNKNOWN_TXN    /* withHold: no hold of this kiosk under this id */
     fi
  :: op == VOID ->
     if
     :: rec[id] == R_VOIDED -> code = OK                  /* b_void: the first answer */
     :: rec[id] == R_POSTED -> code = DUPLICATE_TXN
     :: rec[id] == R_HELD ->                              /* b_void: release the hold */
        code = OK; nrec = R_VOIDED; dheld_sub = rec_amt[id]
     :: else -> code = UNKNOWN_TXN
     fi
  fi
}

/* The batch becomes durable as a whole (commit.ts: one synced LevelDB write). */
inline commit() {
  if
  :: nrec != KEEP -> rec[id] = nrec
  :: else
  fi;
  if
  :: nrec == R_DEPOSITED || nrec == R_HELD || nrec == R_DECLINED -> rec_amt[id] = namt
  :: else
  fi;
  if
  :: nrec == R_POSTED -> rec_posted[id] = nposted
  :: else
  fi;
  if
  :: ncredit ->
     if                               /* P3: never a deposit credited twice */
     :: credits[t] > 0 -> printf("VIOLATED P3: customer %d's deposit credited twice\n", t); assert(false)
     :: else
     fi;
     credits[t]++
  :: else
  fi;
  if
  :: nreconcile -> reconcile[id] = true; printf("bank audit: post after void: reconcile (txn %d)\n", id)
  :: else
  fi;
  assert(balance + dbal_add >= dbal_sub);
  balance = balance + dbal_add - dbal_sub;
  held = held + dheld_add - dheld_sub;
  debited[t] = debited[t] + dbal_sub;
  if                                  /* P2: never a debit without cash */
  :: debited[t] > cash[t] ->
     printf("VIOLATED P2: customer %d debited %d notes, %d left the machine\n", t, debited[t], cash[t]); assert(false)
  :: else
  fi;
  ACCOUNT_VALID
}

#define BANK_CLEAR op = 0; id = 0; amt = 0; s = 0; t = 0; code = 0; nrec = 0; namt = 0; nposted = 0; \
                   dbal_add = 0; dbal_sub = 0; dheld_add = 0; dheld_sub = 0; ncredit = false; nreconcile = false

/* The answer goes back on the request's session if that is still the kiosk's, unless lost. */
#define ANSWER \
  if \
  :: s == session -> assert(len(resp) < NSLOT); resp!op, id, code \
  :: s == session && MAY(losses, LOSSES) -> FAULT(losses); printf("NET: the answer is lost\n") \
  :: else -> printf("bank: the session that asked is gone; no answer\n") \
  fi

/* One request, read to answer, is one atomic step with the crashes it may suffer: the handler
   holds the txn's and the account's locks throughout, so nothing else touches what it reads,
   and the kiosk sees nothing of it but the answer. */
#define TELL printf("bank: %e txn %d amount %d -> %e (balance %d, held %d)\n", op, id, amt, code, balance, held)
active proctype Bank() {
  mtype op, code;
  byte id, amt, t;
  bit s;
  byte nrec, namt, nposted, dbal_add, dbal_sub, dheld_add, dheld_sub;
  bool ncredit, nreconcile;
end_idle:
  atomic {
    if
    :: req?op, id, amt, s
    :: copies?op, id, amt, s          /* a request out of order */
    fi;
b_request:
    BCRASH;                           /* before the batch: as if never read */
#ifdef BUG_ANSWER_BEFORE_COMMIT
    d_step { decide() };
    ANSWER;                           /* BUG: answered before the batch is durable */
    printf("BUG: answered before the batch is durable\n");
    BCRASH;
    d_step { commit(); TELL };
#else
b_commit:
    d_step { decide(); commit(); TELL };
    BCRASH;                           /* after the batch: durable, never answered */
b_answer:
    ANSWER;
#endif
    BANK_CLEAR
  };
  goto end_idle
}

/* ======================================================= end state: P1, P3, P4, ledger */
/* P1's two exceptions, each of which an operator hears of from a durable record. */
#ifdef NO_EXPIRY_EXCEPTION
#define EXPIRED_BEFORE_POST(id) false
#else
#define EXPIRED_BEFORE_POST(id) (swept[id] && reconcile[id])
#endif
#ifdef NO_INTERRUPTED_EXCEPTION
#define DISPENSE_INTERRUPTED(id) false
#else
#define DISPENSE_INTERRUPTED(id) (j_stage[id] == J_DSTART)
#endif
#define OPERATOR_FLAGGED(id, t) (debited[t] == 0 && (EXPIRED_BEFORE_POST(id) || DISPENSE_INTERRUPTED(id)))

active proctype Check() {
  byte i, t;
  short sum;
  timeout ->                          /* nothing else can move: the run is over */
  d_step {
    if
    :: !kiosk_done -> printf("VIOLATED: the kiosk is stuck\n"); assert(false)
    :: else
    fi;
    i = 1;
    do
    :: i < NIDS ->
       if                             /* P4: no hold left open */
       :: rec[i] == R_HELD -> printf("VIOLATED P4: hold %d still open at the end\n", i); assert(false)
       :: else
       fi;
       i++
    :: else -> break
    od;
    assert(held == 0);
    sum = BALANCE0;
    t = 0;
    do
    :: t < NTXN ->
       if                             /* P3: a journaled deposit is credited exactly once */
       :: kind[t] == K_DEP && j_stage[t + 1] != J_NONE && credits[t] != 1 ->
          printf("VIOLATED P3: customer %d's deposit credited %d times\n", t, credits[t]); assert(false)
       :: else
       fi;
       if                             /* P1: notes out == notes debited, or an operator is told */
       :: kind[t] == K_WD && cash[t] != debited[t] && !OPERATOR_FLAGGED(t + 1, t) ->
          printf("VIOLATED P1: customer %d took %d note(s), %d debited\n", t, cash[t], debited[t]); assert(false)
       :: else
       fi;
       sum = sum + credits[t] * DEPOSIT_AMT - debited[t];
       t++
    :: else -> break
    od;
    assert(sum == balance)
  }
}

/* P4 as liveness: pan -a -f -N no_stuck_hold. */
ltl no_stuck_hold { [] ((held > 0) -> <> (held == 0)) }
