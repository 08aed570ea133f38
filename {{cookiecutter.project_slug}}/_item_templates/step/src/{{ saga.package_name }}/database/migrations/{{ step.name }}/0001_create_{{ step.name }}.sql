-- The effects of the {{ step.name }} step: one row per saga, so a repeated action cannot apply twice.
CREATE TABLE "{{ step.name }}" (
    saga_id text PRIMARY KEY,
    state text NOT NULL CHECK (state IN ('DONE', 'COMPENSATED')),
    data jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
