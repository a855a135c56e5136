"""Drives the API through a client that openapi-python-client generated from the
running service's /openapi.json (scripts/test-client.sh generates it, starts the
service and runs this file). Nothing here is written by hand against the API: a
document that misstates a field or drops an operation breaks these tests.

Environment: TASKS_BASE_URL (the service), TASKS_CLIENT_DIR (the directory holding
the generated package `tasks_client`), TASKS_TOKEN (a write token, when the service
runs with API_TOKENS_FILE: then the client sends it as a bearer token).
"""

import datetime
import os
import sys
import unittest
from http import HTTPStatus

sys.path.insert(0, os.environ["TASKS_CLIENT_DIR"])

from tasks_client import AuthenticatedClient, Client  # noqa: E402
from tasks_client.api.tasks import (  # noqa: E402
    create_task,
    delete_task,
    get_task,
    list_tasks,
    update_task,
)
from tasks_client.models import (  # noqa: E402
    CreateTask,
    Problem,
    Task,
    TaskList,
    TaskStatus,
    UpdateTask,
)
from tasks_client.types import UNSET  # noqa: E402

PROBLEM_JSON = "application/problem+json"


def client(with_token=True):
    # trust_env=False: the service is on loopback, never behind the machine's proxy.
    token = os.environ.get("TASKS_TOKEN", "")
    if with_token and token:
        return AuthenticatedClient(
            base_url=os.environ["TASKS_BASE_URL"],
            token=token,
            raise_on_unexpected_status=True,
            httpx_args={"trust_env": False},
        )
    return Client(
        base_url=os.environ["TASKS_BASE_URL"],
        raise_on_unexpected_status=True,
        httpx_args={"trust_env": False},
    )


def create(api, **fields):
    response = create_task.sync_detailed(client=api, body=CreateTask(**fields))
    assert response.status_code == HTTPStatus.CREATED, response
    assert isinstance(response.parsed, Task), response.parsed
    return response


class GeneratedClient(unittest.TestCase):
    def setUp(self):
        self.api = client()
        self.addCleanup(lambda: self.api.get_httpx_client().close())

    @unittest.skipUnless(os.environ.get("TASKS_TOKEN"), "the service runs without tokens")
    def test_without_the_token_the_answer_is_a_documented_401_problem(self):
        anonymous = client(with_token=False)
        self.addCleanup(lambda: anonymous.get_httpx_client().close())
        response = list_tasks.sync_detailed(client=anonymous)
        self.assertEqual(response.status_code, HTTPStatus.UNAUTHORIZED)
        self.assertEqual(response.headers["content-type"], PROBLEM_JSON)
        self.assertIsInstance(response.parsed, Problem, "401 is in the document")
        self.assertTrue(response.headers["www-authenticate"].startswith("Bearer "))

    def test_create_then_get_returns_every_field(self):
        response = create(
            self.api,
            title="  Write report ",
            description="Two pages.\nNo more.",
            status=TaskStatus.IN_PROGRESS,
            due_date=datetime.date(2026, 12, 1),
        )
        task = response.parsed
        self.assertEqual(response.headers["location"], f"/api/tasks/{task.id}")
        self.assertEqual(task.title, "Write report", "the title is trimmed")
        self.assertEqual(task.description, "Two pages.\nNo more.")
        self.assertEqual(task.status, TaskStatus.IN_PROGRESS)
        self.assertEqual(task.due_date, "2026-12-01")
        self.assertEqual(task.created_at, task.updated_at)

        fetched = get_task.sync(client=self.api, id=task.id)
        self.assertIsInstance(fetched, Task)
        self.assertEqual(fetched.to_dict(), task.to_dict())

    def test_status_defaults_to_todo_and_absent_fields_stay_absent(self):
        task = create(self.api, title="plain").parsed
        self.assertEqual(task.status, TaskStatus.TODO)
        self.assertIs(task.description, UNSET)
        self.assertIs(task.due_date, UNSET)

    def test_list_filters_by_status_and_pages_in_id_order(self):
        before = list_tasks.sync(client=self.api, status=TaskStatus.DONE, limit=1)
        self.assertIsInstance(before, TaskList)
        start = before.total
        mine = [create(self.api, title=f"done {i}", status=TaskStatus.DONE).parsed.id for i in range(3)]
        create(self.api, title="not done")  # filtered out

        first = list_tasks.sync(client=self.api, status=TaskStatus.DONE, limit=2, offset=start)
        self.assertEqual(first.total, start + 3)
        self.assertEqual((first.limit, first.offset), (2, start))
        self.assertEqual([t.id for t in first.items], mine[:2])
        self.assertTrue(all(t.status == TaskStatus.DONE for t in first.items))

        rest = list_tasks.sync(client=self.api, status=TaskStatus.DONE, limit=2, offset=start + 2)
        self.assertEqual([t.id for t in rest.items], mine[2:])
        self.assertEqual(rest.total, start + 3)

    def test_a_walk_by_cursor_round_trips_next_as_after(self):
        mine = [create(self.api, title=f"walk {i}", status=TaskStatus.IN_PROGRESS).parsed.id for i in range(5)]
        seen, after, pages = [], UNSET, 0
        while True:
            response = list_tasks.sync_detailed(
                client=self.api, status=TaskStatus.IN_PROGRESS, limit=2, after=after
            )
            page = response.parsed
            self.assertIsInstance(page, TaskList)
            seen += [t.id for t in page.items]
            pages += 1
            if page.next_ is None:
                self.assertNotIn("link", response.headers, "no Link on the last page")
                break
            self.assertIsInstance(page.next_, str)
            self.assertEqual(
                response.headers["link"],
                f'</api/tasks?limit=2&status=in_progress&after={page.next_}>; rel="next"',
            )
            after = page.next_
        self.assertEqual(seen[-5:], mine, "every task once, in id order")
        self.assertEqual(len(seen), len(set(seen)), "no task twice")
        self.assertGreaterEqual(pages, 3)

    def test_a_cursor_of_another_list_is_a_400_problem_that_names_after(self):
        for i in range(2):
            create(self.api, title=f"foreign {i}", status=TaskStatus.TODO)
        cursor = list_tasks.sync(client=self.api, status=TaskStatus.TODO, limit=1).next_
        self.assertIsInstance(cursor, str)
        for status, after in ((TaskStatus.DONE, cursor), (TaskStatus.TODO, cursor[:-1] + ("A" if cursor[-1] != "A" else "B"))):
            response = list_tasks.sync_detailed(client=self.api, status=status, limit=1, after=after)
            self.assertEqual(response.status_code, HTTPStatus.BAD_REQUEST, (status, after))
            self.assertIsInstance(response.parsed, Problem)
            self.assertIn("`after`", response.parsed.detail)

    def test_patch_changes_named_fields_and_null_clears_description_and_due_date(self):
        task = create(
            self.api, title="old", description="drop me", due_date=datetime.date(2026, 1, 1)
        ).parsed

        renamed = update_task.sync(client=self.api, id=task.id, body=UpdateTask(title=" new "))
        self.assertIsInstance(renamed, Task)
        self.assertEqual(renamed.title, "new")
        self.assertEqual(renamed.description, "drop me", "fields left UNSET are kept")
        self.assertEqual(renamed.due_date, "2026-01-01")

        # None is sent as JSON null because the document marks these fields nullable.
        body = UpdateTask(description=None, due_date=None)
        self.assertEqual(body.to_dict(), {"description": None, "due_date": None})
        cleared = update_task.sync(client=self.api, id=task.id, body=body)
        self.assertIsInstance(cleared, Task)
        self.assertIs(cleared.description, UNSET)
        self.assertIs(cleared.due_date, UNSET)
        self.assertEqual(cleared.title, "new")
        fetched = get_task.sync(client=self.api, id=task.id)
        self.assertEqual(fetched.to_dict(), cleared.to_dict())

    def test_delete_then_get_is_a_404_problem(self):
        task = create(self.api, title="short-lived").parsed
        deleted = delete_task.sync_detailed(client=self.api, id=task.id)
        self.assertEqual(deleted.status_code, HTTPStatus.NO_CONTENT)

        gone = get_task.sync_detailed(client=self.api, id=task.id)
        self.assertEqual(gone.status_code, HTTPStatus.NOT_FOUND)
        self.assertTrue(gone.headers["content-type"].startswith(PROBLEM_JSON), gone.headers)
        self.assertIsInstance(gone.parsed, Problem)
        self.assertEqual((gone.parsed.status, gone.parsed.title), (404, "Not Found"))
        self.assertIn(str(task.id), gone.parsed.detail)

    def test_a_blank_title_is_a_400_problem_that_names_the_field(self):
        # The generated client does not check patterns, so the service gets to refuse.
        response = create_task.sync_detailed(client=self.api, body=CreateTask(title="   "))
        self.assertEqual(response.status_code, HTTPStatus.BAD_REQUEST)
        self.assertTrue(response.headers["content-type"].startswith(PROBLEM_JSON))
        self.assertIsInstance(response.parsed, Problem)
        self.assertEqual(response.parsed.status, 400)
        self.assertIn("title", response.parsed.detail)


if __name__ == "__main__":
    unittest.main()
