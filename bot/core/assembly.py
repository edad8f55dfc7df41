"""Core, wired once: every component built from the ports, in dependency order, with no cycle.

The composition root (bot/app.py), the benchmark and the core tests build core the same way, from a store, a
provider, a clock and a few settings. The notifier is not needed here: the job runtime attaches it when it starts
(see bot/core/outbox.py for why).
"""

from __future__ import annotations

import asyncio

from bot.core.admission import Admission
from bot.core.audit import AuditRecorder
from bot.core.blocklist import BlockList
from bot.core.catalog import Catalog
from bot.core.clock import SystemClock
from bot.core.confirmations import Confirmations
from bot.core.credit_admin import CreditAdmin
from bot.core.jobs.cluster import Adoption, Cluster, ClusterConfig, SlotClaims
from bot.core.jobs.config import JobsConfig
from bot.core.jobs.control import JobControl
from bot.core.jobs.delivery import Delivery
from bot.core.jobs.finisher import Finisher
from bot.core.jobs.registry import Registry
from bot.core.jobs.runtime import JobRuntime
from bot.core.jobs.scheduler import Scheduler
from bot.core.jobs.tasks import Tasks
from bot.core.jobs.tracker import Tracker
from bot.core.jobs.webdesk import WebDesk
from bot.core.library import Library
from bot.core.lyrics import Lyrics
from bot.core.metrics import Metrics
from bot.core.outbox import Outbox
from bot.core.personas import Personas
from bot.core.settings import Defaults, SettingsBook
from bot.core.studio import StudioAdmin
from bot.core.tools import Toolbox
from bot.domain.ports import Clock, ClusterStore, MusicProvider, Store


class Core:
    """Every part of core. Cogs and ui see only the ones gathered in ``bot.services.Services``."""

    def __init__(
        self,
        *,
        store: Store,
        provider: MusicProvider,
        clock: Clock | None = None,
        metrics: Metrics | None = None,
        config: JobsConfig | None = None,
        defaults: Defaults | None = None,
        cluster: tuple[ClusterStore, ClusterConfig] | None = None,
    ) -> None:
        """``cluster``: this process is one worker of many on a shared database (its store's cluster port and
        this worker's settings); None runs alone (SQLite, tests)."""
        clock = clock or SystemClock()
        metrics = metrics or Metrics()
        config = config or JobsConfig()
        self.clock = clock
        self.metrics = metrics
        self.config = config
        self.store = store

        # What everything shares: the way out, settings, the provider's offer, the audit log.
        self.outbox = Outbox()
        self.settings = SettingsBook(store, defaults)
        self.catalog = Catalog(provider, store, clock)
        self.audit = AuditRecorder(self.settings, self.outbox, clock)
        self.blocklist = BlockList(store, self.settings, clock)
        self.blocklist.prepare()

        # The job runtime, from the end of a job's life backwards, so each part gets what it hands work to.
        tasks = Tasks()
        wakeup = asyncio.Event()
        self.registry = Registry()
        self.delivery = Delivery(
            store=store,
            outbox=self.outbox,
            catalog=self.catalog,
            clock=clock,
            metrics=metrics,
            config=config,
            tasks=tasks,
            listeners=[self.audit.job_outcome],
        )
        self.finisher = Finisher(
            store=store,
            registry=self.registry,
            delivery=self.delivery,
            clock=clock,
            metrics=metrics,
            config=config,
            tasks=tasks,
        )
        worker = cluster[1].worker if cluster is not None else None
        self.slots = (
            SlotClaims(
                store=cluster[0],
                registry=self.registry,
                provider=provider,
                config=cluster[1],
                clock=clock,
                tasks=tasks,
                wake=wakeup.set,
            )
            if cluster is not None
            else None
        )
        self.tracker = Tracker(
            provider=provider,
            store=store,
            webhooks=store,
            registry=self.registry,
            finisher=self.finisher,
            catalog=self.catalog,
            outbox=self.outbox,
            clock=clock,
            metrics=metrics,
            config=config,
            tasks=tasks,
            wake=wakeup.set,
        )
        self.scheduler = Scheduler(
            provider=provider,
            store=store,
            registry=self.registry,
            tracker=self.tracker,
            finisher=self.finisher,
            catalog=self.catalog,
            outbox=self.outbox,
            clock=clock,
            metrics=metrics,
            config=config,
            tasks=tasks,
            wake=wakeup.set,
            slots=self.slots,
        )
        self.adoption = Adoption(
            registry=self.registry,
            scheduler=self.scheduler,
            tracker=self.tracker,
            finisher=self.finisher,
            delivery=self.delivery,
            clock=clock,
        )
        self.cluster = (
            Cluster(
                store=cluster[0],
                config=cluster[1],
                registry=self.registry,
                adoption=self.adoption,
                slots=self.slots,
                settings=self.settings,
                blocklist=self.blocklist,
                catalog=self.catalog,
                clock=clock,
                tasks=tasks,
            )
            if cluster is not None and self.slots is not None
            else None
        )
        if self.cluster is not None:
            self.tracker.neighbours = self.cluster  # polls shared by every worker (Tracker._share)
        self.runtime = JobRuntime(
            store=store,
            registry=self.registry,
            scheduler=self.scheduler,
            tracker=self.tracker,
            finisher=self.finisher,
            delivery=self.delivery,
            catalog=self.catalog,
            outbox=self.outbox,
            clock=clock,
            config=config,
            tasks=tasks,
            wakeup=wakeup,
            adoption=self.adoption,
            cluster=self.cluster,
        )
        self.web = WebDesk(
            tracker=self.tracker,
            registry=self.registry,
            metrics=metrics,
            provider_name=provider.name,
            cluster=self.cluster,
        )

        # The services members and admins call.
        self.library = Library(store=store, settings=self.settings, catalog=self.catalog, audit=self.audit)
        self.admission = Admission(
            store=store,
            library=self.library,
            catalog=self.catalog,
            settings=self.settings,
            blocklist=self.blocklist,
            audit=self.audit,
            intake=self.scheduler.admitted,
            clock=clock,
            owner=worker,
        )
        self.jobs = JobControl(store=store, scheduler=self.scheduler, finisher=self.finisher, audit=self.audit)
        self.lyrics = Lyrics(
            admission=self.admission,
            provider=provider,
            finisher=self.finisher,
            store=store,
            audit=self.audit,
            metrics=metrics,
        )
        self.studio = StudioAdmin(
            settings=self.settings,
            blocklist=self.blocklist,
            store=store,
            catalog=self.catalog,
            registry=self.registry,
            audit=self.audit,
            clock=clock,
        )
        self.credits = CreditAdmin(
            store=store, settings=self.settings, catalog=self.catalog, audit=self.audit, clock=clock
        )
        self.tools = Toolbox(
            admission=self.admission,
            catalog=self.catalog,
            finisher=self.finisher,
            store=store,
            library=self.library,
            audit=self.audit,
            metrics=metrics,
            clock=clock,
        )
        self.personas = Personas(
            admission=self.admission,
            catalog=self.catalog,
            finisher=self.finisher,
            store=store,
            audit=self.audit,
            clock=clock,
        )
        self.confirmations = Confirmations(clock)
