/**
 * The page: load a log (from `?log=`, the dev server's default, a chosen or
 * a dropped file), pick a sequence number (`?seq=` keeps it in the URL),
 * and look at the root state rebuilt at that point (`EventLog.stateAt`,
 * from the nearest snapshot; see states.ts).
 */
import { useCallback, useEffect, useMemo, useRef, useState } from "preact/hooks";
import { Checkpoints } from "./checkpoints";
import { FaultQueuesPanel } from "./components/FaultQueuesPanel";
import { IovaMapView } from "./components/IovaMapView";
import { LogLoader } from "./components/LogLoader";
import { ObjectGraphView } from "./components/ObjectGraphView";
import { PageTables } from "./components/PageTables";
import { Panel } from "./components/Panel";
import { PasidTableView } from "./components/PasidTableView";
import { SeqSlider } from "./components/SeqSlider";
import { SmmuPanel } from "./components/SmmuPanel";
import { StateInspector } from "./components/StateInspector";
import { Timeline } from "./components/Timeline";
import { VtdPanel } from "./components/VtdPanel";
import { DEFAULT_LOG_URL } from "./default-log";
import { faultsView } from "./faults";
import { objectGraph } from "./graph";
import { iovaMaps } from "./iova";
import { fetchLog, type LoadedLog, loadLog } from "./load";
import { pasidTable } from "./pasids";
import { smmuInstances } from "./smmu";
import { stateStep } from "./states";
import type { ViewerDecider } from "./system";
import { useFileDrop } from "./use-file-drop";
import { vtdUnits } from "./vtd";

/** Props of `App`. */
export interface AppProps {
  /** The root decider logs are replayed on. */
  readonly system: ViewerDecider;
  /** The log to load first (default: `?log=` of the page URL, else DEFAULT_LOG_URL). */
  readonly initialUrl?: string;
}

function urlFromLocation(): string {
  return new URLSearchParams(window.location.search).get("log") ?? DEFAULT_LOG_URL;
}

/** `?seq=` of the page URL when it is a non-negative integer: where to open the first log. */
function seqFromLocation(): number | undefined {
  const v = new URLSearchParams(window.location.search).get("seq");
  const n = v === null ? Number.NaN : Number(v);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

/** Keep `?seq=` in the address bar, so a position in a log can be shared as a link. */
function seqToLocation(seq: number): void {
  const url = new URL(window.location.href);
  url.searchParams.set("seq", String(seq));
  window.history.replaceState(null, "", url);
}

/** The whole page. */
export function App({ system, initialUrl }: AppProps) {
  const [loaded, setLoaded] = useState<LoadedLog | undefined>(undefined);
  const [loading, setLoading] = useState<string | undefined>(undefined);
  const [seq, setSeq] = useState(0);

  // The latest load wins: a slow fetch finishing after a file was dropped must not replace it.
  const generation = useRef(0);
  const start = useCallback(
    (name: string, load: (onProgress: (n: number) => void) => Promise<LoadedLog>, at?: number) => {
      const mine = ++generation.current;
      const current = () => mine === generation.current;
      setLoading(name);
      void load((n) => current() && setLoading(`${name} (${n} records)`)).then((l) => {
        if (!current()) return;
        setLoaded(l);
        setSeq(at === undefined ? l.log.seq : Math.min(at, l.log.seq));
        setLoading(undefined);
      });
    },
    [],
  );
  const openFile = useCallback(
    (file: File) =>
      start(file.name, (onProgress) => loadLog(file.stream(), file.name, system, { onProgress })),
    [system, start],
  );

  useFileDrop(openFile);

  useEffect(() => {
    const url = initialUrl ?? urlFromLocation();
    start(url, (onProgress) => fetchLog(url, system, { onProgress }), seqFromLocation());
  }, [system, initialUrl, start]);

  useEffect(() => {
    if (loaded !== undefined) seqToLocation(seq);
  }, [loaded, seq]);

  const log = loaded?.log;
  const checkpoints = useMemo(() => (log === undefined ? undefined : new Checkpoints(log)), [log]);
  const step = useMemo(
    () => (log === undefined ? undefined : stateStep(log, seq, checkpoints)),
    [log, seq, checkpoints],
  );
  const root = step?.root;
  // The hardware views decode tables from memory: once per position, not per render.
  const vtd = useMemo(() => (root === undefined ? undefined : vtdUnits(root)), [root]);
  const smmu = useMemo(() => (root === undefined ? undefined : smmuInstances(root)), [root]);
  const faults = useMemo(() => (root === undefined ? undefined : faultsView(root)), [root]);
  const first = log === undefined ? 1 : log.seq - log.records.length + 1;

  return (
    <div
      class="app"
      data-testid="app"
      data-ready={loading === undefined && loaded !== undefined ? "true" : "false"}
    >
      <header>
        <h1>iommu-sim log viewer</h1>
        <LogLoader loaded={loaded} loading={loading} onFile={openFile} />
      </header>
      {log === undefined || root === undefined ? null : (
        <>
          <SeqSlider seq={seq} last={log.seq} onSeq={setSeq} />
          <main>
            <Panel title="Timeline" testId="panel-timeline">
              <Timeline records={log.records} first={first} seq={seq} onSeq={setSeq} />
            </Panel>
            <div class="views">
              <Panel title="Objects" testId="panel-objects" source="root.iommufd">
                <ObjectGraphView graph={objectGraph(root)} />
              </Panel>
              <Panel title="PASIDs" testId="panel-pasids" source="root.ioasid">
                <PasidTableView table={pasidTable(root)} />
              </Panel>
              <Panel title="IOVA map" testId="panel-iova" source="root.iopt">
                <IovaMapView maps={iovaMaps(root)} />
              </Panel>
              <Panel title="Page tables" testId="panel-pagetables" source="root.mockDomain">
                <PageTables root={root} />
              </Panel>
              <Panel title="VT-d" testId="panel-vtd" source="root.vtd, root.mm">
                <VtdPanel units={vtd} />
              </Panel>
              <Panel title="SMMUv3" testId="panel-smmu" source="root.smmu, root.mm.ram">
                <SmmuPanel instances={smmu} />
              </Panel>
              <Panel
                title="Fault queues"
                testId="panel-faults"
                source="root.iommufd.faults, root.ioasid.iopf, root.vtd, root.smmu"
              >
                {faults === undefined ? null : <FaultQueuesPanel faults={faults} />}
              </Panel>
              <Panel title="State" testId="panel-state" source="root">
                <StateInspector root={root} changed={step?.changed ?? []} />
              </Panel>
            </div>
          </main>
        </>
      )}
    </div>
  );
}
