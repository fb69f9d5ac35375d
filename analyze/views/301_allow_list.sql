-- The allow-list: known-benign detections that `swk analyze` and `swk report` suppress (docs/detections.md
-- section 13, "Sysmon-derived facts").
-- A suppressed detection is still computed and counted, and `detections.allowed_by` names the entry; nothing is
-- dropped. Patterns are globs (`*`, `?`) matched case-insensitively against the whole value of the detection's
-- trigger row (detection_facts); NULL matches anything, a given pattern never matches an unknown value.
-- These are the built-in entries; `swk analyze --allow FILE` appends a file's entries to this view (after it, in
-- file order) when it opens the case (swk.analyze.allow), so the same SQL holds in the plain duckdb shell.
--   csrss-ctrl-routine: to deliver a console control event (Ctrl+C, close, and at logoff and shutdown to every
--     process) csrss.exe creates a thread at kernelbase!CtrlRoutine (kernel32 before Windows 8) in the receiving
--     process. Sysmon logs it as CreateRemoteThread from csrss, so it raises the remote-thread rules (start in a
--     module that is not the target's image) and, when csrss opened the process just before, the intent rules and
--     the kernel mark chain. The OTRF run-key set holds 82 of them at one logoff (svchost, lsass, services, agents).
--     Only the system's csrss, only that routine in that module.
--   azure-vm-agent, azure-network-watcher: the Azure VM guest agent and the Network Watcher extension are .NET; they
--     run their tools (wevtutil, logman, netsh, ipconfig, ...) through Process.Start, whose CreateProcess call comes
--     up from JIT-compiled code, which lies in no module. Sysmon's CallTrace shows that frame (`UNKNOWN(...)`, under
--     System.ni.dll), and the driver's stack checks would class the creation handle DIRECT-SYSCALL-SUSPECT (spec
--     3.2: a non-image frame). The OTRF sets, recorded on Azure VMs, hold 11 of them. Only that rule, only from the
--     agents' own folders (writable by administrators only).
CREATE OR REPLACE VIEW allow_list AS
SELECT * FROM (VALUES
    (1, 'csrss-ctrl-routine', 'built-in', CAST(NULL AS VARCHAR), '?:\windows\system32\csrss.exe',
        CAST(NULL AS VARCHAR), '?:\windows\sys*\kernel*.dll', 'CtrlRoutine',
        'csrss.exe delivers a console control event by starting kernelbase!CtrlRoutine in the process'),
    (2, 'azure-vm-agent', 'built-in', 'DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION', '?:\windowsazure\guestagent_*\*.exe',
        CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR),
        'the .NET Azure VM agent starts its tools from JIT-compiled code, a frame in no module'),
    (3, 'azure-network-watcher', 'built-in', 'DIRECT_SYSCALL_SUSPECT_HANDLE_OPERATION',
        '?:\packages\plugins\microsoft.azure.networkwatcher.*\networkwatcheragent.exe',
        CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR),
        'the .NET Azure Network Watcher agent starts its tools from JIT-compiled code, a frame in no module')
) AS a(entry_order, name, origin, rule, actor_image, target_image, start_module, start_function, note);
