"""The processes a Windows 11 workstation already runs when the capture starts (no telemetry for them).

Names, parents, sessions and command lines follow a stock 22H2/23H2 install with Defender, Edge, OneDrive and one
32-bit (WOW64) application; pids are drawn per host like the kernel's client-id table does (multiples of 4).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from swk.capture.simulate.host import Process
from swk.capture.simulate.sim import Simulation

S32 = "C:\\Windows\\System32\\"
EDGE = "C:\\Program Files (x86)\\Microsoft\\Edge\\Application\\msedge.exe"
SVCHOST_GROUPS = ("DcomLaunch -p", "RPCSS -p", "LocalServiceNetworkRestricted -p", "netsvcs -p -s Schedule",
                  "netsvcs -p -s gpsvc", "LocalSystemNetworkRestricted -p -s SysMain", "NetworkService -p",
                  "UnistackSvcGroup -s WpnUserService", "appmodel -p -s StateRepository", "wsappx -p -s AppXSvc",
                  "LocalService -p -s EventSystem", "netsvcs -p -s Winmgmt", "utcsvc -p")  # fmt: skip


@dataclass
class Baseline:
    """The named processes scenarios and background activity refer to."""

    csrss: Process
    services: Process
    lsass: Process
    winlogon: Process
    explorer: Process
    defender: Process
    wmi: Process
    edge: Process
    steam: Process
    svchosts: list[Process] = field(default_factory=list)
    user: list[Process] = field(default_factory=list)  # long-running user-session apps
    edge_children: list[Process] = field(default_factory=list)

    def all(self) -> list[Process]:
        """Every baseline process."""
        fixed = [self.csrss, self.services, self.lsass, self.winlogon, self.explorer, self.defender, self.wmi,
                 self.edge, self.steam]  # fmt: skip
        return fixed + self.svchosts + self.user + self.edge_children


def build(sim: Simulation) -> Baseline:
    """Create the baseline processes of the host (before the capture starts)."""
    e = sim.existing
    smss = e(S32 + "smss.exe", None, "\\SystemRoot\\System32\\smss.exe", session=0, gui=False, threads=1)
    e(S32 + "csrss.exe", smss, "%SystemRoot%\\system32\\csrss.exe ObjectDirectory=\\Windows SharedSection=1024,20480,768 Windows=On SubSystemType=Windows ServerDll=basesrv,1 ServerDll=winsrv:UserServerDllInitialization,3 ServerDll=sxssrv,4 ProfileControl=Off MaxRequestThreads=16", session=0, gui=False)  # fmt: skip
    wininit = e(S32 + "wininit.exe", smss, "wininit.exe", session=0, gui=False)
    csrss = e(S32 + "csrss.exe", smss, "%SystemRoot%\\system32\\csrss.exe ObjectDirectory=\\Windows SharedSection=1024,20480,768 Windows=On SubSystemType=Windows ServerDll=basesrv,1 ServerDll=winsrv:UserServerDllInitialization,3 ServerDll=sxssrv,4 ProfileControl=Off MaxRequestThreads=16", gui=False, threads=6)  # fmt: skip
    winlogon = e(S32 + "winlogon.exe", smss, "winlogon.exe", gui=False)
    services = e(S32 + "services.exe", wininit, "C:\\Windows\\system32\\services.exe", session=0, gui=False)
    lsass = e(S32 + "lsass.exe", wininit, "C:\\Windows\\system32\\lsass.exe", session=0, gui=False, threads=8)
    svchosts = [e(S32 + "svchost.exe", services, f"C:\\Windows\\system32\\svchost.exe -k {g}", session=0, gui=False,
                  threads=4) for g in SVCHOST_GROUPS]  # fmt: skip
    defender = e("C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\MsMpEng.exe", services,
                 '"C:\\ProgramData\\Microsoft\\Windows Defender\\Platform\\4.18.24090.11-0\\MsMpEng.exe"', session=0,
                 gui=False, threads=12)  # fmt: skip
    wmi = e(S32 + "wbem\\WmiPrvSE.exe", svchosts[0], "C:\\Windows\\system32\\wbem\\wmiprvse.exe -Embedding",
            session=0, gui=False)  # fmt: skip
    e(S32 + "spoolsv.exe", services, "C:\\Windows\\System32\\spoolsv.exe", session=0, gui=False)
    e(S32 + "dwm.exe", winlogon, '"dwm.exe"', threads=8)
    userinit = sim.host.new_cid()  # exited long ago: explorer's parent pid points at nothing
    explorer = e("C:\\Windows\\explorer.exe", None, "C:\\Windows\\Explorer.EXE", threads=10)
    explorer.ppid = userinit
    user = [e(S32 + name, svchosts[0] if name != "sihost.exe" else svchosts[3], cmd) for name, cmd in (
        ("sihost.exe", "sihost.exe"), ("taskhostw.exe", "taskhostw.exe {222A245B-E637-4AE9-A93F-A59CA119A75E}"),
        ("RuntimeBroker.exe", "C:\\Windows\\System32\\RuntimeBroker.exe -Embedding"),
        ("ctfmon.exe", '"ctfmon.exe"'), ("SecurityHealthSystray.exe", '"C:\\Windows\\System32\\SecurityHealthSystray.exe"'),
    )]  # fmt: skip
    user.append(e("C:\\Windows\\SystemApps\\MicrosoftWindows.Client.CBS_cw5n1h2txyewy\\SearchHost.exe",
                  svchosts[0], '"C:\\Windows\\SystemApps\\MicrosoftWindows.Client.CBS_cw5n1h2txyewy\\SearchHost.exe" -ServerName:CortanaUI.AppX8z9r6jm96hw4bsbneegw0kyxx296wr9t.mca'))  # fmt: skip
    user.append(e("C:\\Users\\alice\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe", explorer,
                  '"C:\\Users\\alice\\AppData\\Local\\Microsoft\\OneDrive\\OneDrive.exe" /background'))  # fmt: skip
    edge = e(EDGE, explorer, f'"{EDGE}" --profile-directory=Default', threads=16)
    children = [e(EDGE, edge, f'"{EDGE}" --type={kind} --string-annotations --mojo-platform-channel-handle=2{i}64',
                  threads=6) for i, kind in enumerate(("gpu-process", "utility --utility-sub-type=network.mojom.NetworkService",
                                                       "renderer", "renderer", "renderer"))]  # fmt: skip
    steam = e("C:\\Program Files (x86)\\Steam\\steam.exe", explorer, '"C:\\Program Files (x86)\\Steam\\steam.exe" -silent',
              wow64=True, threads=6)  # fmt: skip
    return Baseline(csrss, services, lsass, winlogon, explorer, defender, wmi, edge, steam, svchosts, user, children)
