// Alarm storage (getAlarm/setAlarm/deleteAlarm) as values only: times are far in the future, so no
// alarm fires during a case. Firing and retries are covered by test/integration/alarms.test.ts.
import type { OracleCase } from "../cases.ts";
import { tag } from "../ops.ts";
import { DOC } from "./docs.ts";

const FUTURE = Date.UTC(2099, 0, 1);

export const ALARM_CASES: OracleCase[] = [
  {
    name: "getAlarm is null until setAlarm(ms); deleteAlarm clears it",
    doc: DOC.alarms,
    ops: [{ op: "getAlarm" }, { op: "setAlarm", time: FUTURE }, { op: "getAlarm" }, { op: "deleteAlarm" }, { op: "getAlarm" }, { op: "deleteAlarm" }],
  },
  { name: "setAlarm accepts a Date", doc: DOC.alarms, ops: [{ op: "setAlarm", time: tag.date(FUTURE) }, { op: "getAlarm" }] },
  { name: "setAlarm replaces the earlier alarm", doc: DOC.alarms, ops: [{ op: "setAlarm", time: FUTURE }, { op: "setAlarm", time: FUTURE + 1000 }, { op: "getAlarm" }] },
  { name: "setAlarm with fractional milliseconds", doc: DOC.alarms, ops: [{ op: "setAlarm", time: FUTURE + 0.75 }, { op: "getAlarm" }] },
  { name: "setAlarm with a string", doc: DOC.alarms, ops: [{ op: "setAlarm", time: "2099-01-01T00:00:00Z" }, { op: "getAlarm" }] },
  { name: "setAlarm with NaN", doc: DOC.alarms, ops: [{ op: "setAlarm", time: tag.number("NaN") }, { op: "getAlarm" }] },
  { name: "setAlarm with undefined", doc: DOC.alarms, ops: [{ op: "setAlarm", time: tag.undefined }, { op: "getAlarm" }] },
  { name: "setAlarm with an invalid Date", doc: DOC.alarms, ops: [{ op: "setAlarm", time: tag.date(null) }, { op: "getAlarm" }] },
  { name: "setAlarm with a negative time", doc: DOC.alarms, ops: [{ op: "setAlarm", time: -1 }, { op: "getAlarm" }, { op: "deleteAlarm" }] },
  {
    name: "setAlarm on a class without an alarm() handler",
    doc: DOC.alarms,
    object: "noAlarmHandler",
    ops: [{ op: "setAlarm", time: FUTURE }, { op: "getAlarm" }, { op: "deleteAlarm" }],
  },
  { name: "deleteAll deletes the alarm (compatibility date 2026-02-24 and later)", doc: DOC.deleteAll, ops: [{ op: "setAlarm", time: FUTURE }, { op: "deleteAll" }, { op: "getAlarm" }] },
];
