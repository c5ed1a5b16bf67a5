/**
 * The dashboard's files as the admin listener serves them. Imported on the
 * first request for one of them: a master whose dashboard nobody opens never
 * holds its page, styles and script.
 */
import { formatDuration } from '../../util/duration.ts';
import { dashboardApp } from './client.ts';

export { DASHBOARD_CSS, DASHBOARD_HTML, LOGIN_HTML } from './page.ts';

export const DASHBOARD_JS = `(${dashboardApp.toString()})(${formatDuration.toString()});\n`;
