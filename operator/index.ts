// The operator component's public face: the dashboard's reducer and state, the telemetry feed
// seam (MQTT, or a manual one for tests), the view seam (blessed) and the process wiring.
export { reduce, LOG_SCROLL_LINES, type DashboardInput, type DashboardKey } from './model.js';
export {
  initialState,
  DEFAULT_DASHBOARD_LIMITS,
  type DashboardState,
  type DashboardLimits,
  type BrokerState,
  type AlertEntry,
  type KioskEntry,
  type BankEntry,
  type LogEntry,
} from './state.js';
export { sortedAlerts, selectedAlert } from './alerts.js';
export { visibleLog } from './log.js';
export { currentTps, tpsColumns } from './rates.js';
export {
  MqttFeed,
  TELEMETRY_FILTER,
  describeError,
  type TelemetryFeed,
  type FeedListener,
  type MqttFeedOptions,
} from './feed.js';
export { ManualFeed } from './manual-feed.js';
export { layoutFor, lineText, wrapText, type DashboardView, type ViewKey, type Line, type Tone } from './view.js';
export {
  headerLine,
  kiosksPanel,
  alertsPanel,
  totalsPanel,
  eventsPanel,
  outcomeTone,
  type PanelText,
} from './panels.js';
export { chartPanel, barRows } from './chart.js';
export { alertLines, alertSummary, type AlertSummary } from './alert-line.js';
export {
  actionWords,
  alertKindWords,
  cashLevelWords,
  deviceStateWords,
  devicesWords,
  outcomeWords,
  securityReasonWords,
} from './words.js';
export { BlessedDashboardView, viewKeyOf } from './blessed-view.js';
export {
  runDashboard,
  runOperatorApp,
  type DashboardExit,
  type DashboardOptions,
  type OperatorAppOptions,
} from './app.js';
