# flows/my_flow.py
#
# The example of the script-based storage guide, with flowpack's imports:
#
#   flowpack project create demo
#   flowpack register -p examples/flows/my_flow.py --project demo
#   flowpack run demo/example
#
# `python examples/flows/my_flow.py` runs the flow directly.

from flowpack import Flow, task
from flowpack.storage import Local


@task
def get_data():
    return [1, 2, 3, 4, 5]


@task
def print_data(data):
    print(data)


with Flow("example") as flow:
    data = get_data()
    print_data(data)

flow.storage = Local(stored_as_script=True)  # the file and its local imports, by digest

if __name__ == "__main__":
    flow.run()
